import { z } from 'zod';

/** A progress event streamed before a long method's result. */
export const ProgressEvent = z
  .object({
    stage: z.string(),
    message: z.string().optional(),
    elapsedMs: z.number(),
  })
  .strict();
export type ProgressEvent = z.infer<typeof ProgressEvent>;

/** What services receive to report progress: a stage name and an optional detail. */
export type Progress = (stage: string, message?: string) => void;
export const noProgress: Progress = () => {};
