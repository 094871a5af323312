import { fileURLToPath } from 'node:url';

/** Absolute path of a file under bench/, for spawning it. */
export function benchFile(path: string): string {
  return fileURLToPath(new URL(`../${path}`, import.meta.url));
}
