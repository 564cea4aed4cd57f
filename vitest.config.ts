import { defineConfig } from 'vitest/config';

// IGVM_TEST_JSON=FILE adds a JSON report there (CI counts the results from it).
const json = process.env.IGVM_TEST_JSON;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: json ? ['default', 'json'] : ['default'],
    ...(json ? { outputFile: { json } } : {}),
  },
});
