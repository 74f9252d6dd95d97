/**
 * Writes docs/environment-spec.schema.json from the zod schema. `npm run gen`; a unit test fails
 * when the committed file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { specJsonSchema } from '../src/index.js';

const target = fileURLToPath(
  new URL('../../../docs/environment-spec.schema.json', import.meta.url),
);
writeFileSync(target, JSON.stringify(specJsonSchema(), null, 2) + '\n');
console.log(`wrote ${target}`);
