/**
 * The package root stays small and documented: at most 30 names, each listed in
 * docs/runtime-api.md, and the values a user can import are exactly the ones listed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as root from '../../runtime/index.ts';

const source = readFileSync(new URL('../../runtime/index.ts', import.meta.url), 'utf8');
const page = readFileSync(new URL('../../docs/runtime-api.md', import.meta.url), 'utf8');
const names = [...source.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((m) =>
  m[1]!
    .split(',')
    .map((name) => name.replace(/^\s*type\s+/, '').trim())
    .filter(Boolean),
);

describe('the package root', () => {
  it('exports at most 30 names, types included', () => {
    expect(names.length).toBeGreaterThan(0);
    expect(names.length).toBeLessThanOrEqual(30);
  });

  it('lists every one of them in docs/runtime-api.md', () => {
    for (const name of names) expect(page, name).toContain(`\`${name}\``);
  });

  it('exports as values exactly what it declares as values', () => {
    const values = [...source.matchAll(/export \{([^}]*)\}/g)].flatMap((m) =>
      m[1]!
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name && !name.startsWith('type ')),
    );
    expect(Object.keys(root).sort()).toEqual(values.sort());
  });
});
