import { defineConfig } from 'vitest/config';

// One `vitest run` drives every suite: Node-side tests here, workerd tests in their own project.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/cloudflare/**', 'test/bench/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
