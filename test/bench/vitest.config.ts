import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The benchmark smoke test runs on its own after the main suite (`npm run test:bench`), so
// its thousand sockets and busy cores never share the machine with timing-sensitive tests.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'bench',
    include: ['test/bench/**/*.test.ts'],
    testTimeout: 300_000,
  },
});
