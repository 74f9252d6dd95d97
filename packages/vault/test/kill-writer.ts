// A child process for the kill -9 test: opens (or creates) a vault and commits notes in a loop,
// printing "committed N" after each commit returns. The parent kills it at a random instant.
import { Vault } from '../src/index.js';

const [path, passphrase] = process.argv.slice(2) as [string, string];
const opts = {
  kdf: { alg: 'argon2id13', opslimit: 1, memlimit: 8192, parallelism: 1 } as const,
  allowWeakKdf: true,
  idleLockMs: 0,
};
let v: Vault;
try {
  v = Vault.open(path, opts);
  await v.unlock({ kind: 'passphrase', passphrase });
} catch {
  v = await Vault.create(path, passphrase, opts);
}
for (let i = 0; ; i++) {
  if (i % 5 === 4) {
    await v.files.put(`f${i}.bin`, Buffer.alloc(200_000 + i, i & 0xff));
  } else {
    await v.transaction((tx) => {
      tx.notes.create({ title: `note ${i}`, body: 'x'.repeat(i % 3000) });
      tx.records('audit').set(`e${i}`, { i });
    });
  }
  process.stdout.write(`committed ${v.status().counter}\n`);
}
