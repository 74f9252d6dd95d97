/**
 * Zod schemas shared by the routes; they validate requests and generate the OpenAPI document.
 */
import { z } from 'zod';
import { ERROR_CLASSES } from '@virtos/core';

/** The body of every error response. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string().describe('namespaced code, e.g. vault.wrong_passphrase'),
    class: z.enum(ERROR_CLASSES),
    message: z.string(),
    hint: z.string().optional(),
    subject: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
