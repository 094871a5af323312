/** docs/settings.md lists every setting the one settings model reads, with its flag and variable. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS, type Setting } from '../../runtime/config/settings.ts';

const page = readFileSync(new URL('../../docs/settings.md', import.meta.url), 'utf8');

describe('docs/settings.md', () => {
  it.each(Object.entries(SETTINGS))('documents %s with its flag and variable', (_name, setting: Setting) => {
    expect(page).toContain(`\`--${setting.flag}`);
    // A command line's own switch (`--no-tcp`, `--dialect`) has no variable.
    if (setting.env !== undefined) expect(page).toContain(`\`${setting.env}\``);
  });
});
