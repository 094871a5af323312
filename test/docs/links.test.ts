/**
 * The README is a front page of at most 12,000 characters that links to every page in
 * docs/, and every relative link (with its #anchor) in README.md and docs/*.md resolves, so
 * moving a section or renaming a heading cannot leave a dead link behind.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README_BUDGET = 12_000;

const pages = (): string[] => [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(ROOT, 'docs', name)),
];

/** The text outside fenced code blocks and inline code spans: links inside code are examples. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading ids (github-slugger): rendered text, lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, raw] of withoutCode.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const text = raw!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*]/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    ids.add(count === 0 ? base : `${base}-${count}`);
  }
  return ids;
}

interface Link {
  from: string;
  target: string;
}

function relativeLinks(file: string): Link[] {
  const links: Link[] = [];
  for (const [, target] of prose(readFileSync(file, 'utf8')).matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    if (/^[a-z][a-z\d+.-]*:/i.test(target!) || target!.startsWith('//')) continue;
    links.push({ from: file, target: target! });
  }
  return links;
}

/** Why a link does not resolve, or null when it does. */
function brokenBecause({ from, target }: Link): string | null {
  const [path = '', anchor] = target.split('#', 2);
  const file = path === '' ? from : resolve(dirname(from), decodeURIComponent(path));
  if (!file.startsWith(ROOT)) return 'points outside the repository';
  if (!existsSync(file)) return `no such file: ${relative(ROOT, file)}`;
  if (anchor !== undefined && file.endsWith('.md') && !headingIds(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor))) {
    return `no heading #${anchor} in ${relative(ROOT, file)}`;
  }
  return null;
}

describe('docs', () => {
  it(`README.md is a front page: at most ${README_BUDGET.toLocaleString('en')} characters`, () => {
    const length = [...readFileSync(join(ROOT, 'README.md'), 'utf8')].length;
    expect(length).toBeLessThanOrEqual(README_BUDGET);
  });

  it('README.md links to every page in docs/', () => {
    const linked = new Set(relativeLinks(join(ROOT, 'README.md')).map(({ target }) => target.split('#')[0]));
    const docs = pages()
      .slice(1)
      .map((file) => relative(ROOT, file));
    expect(docs.filter((page) => !linked.has(page))).toEqual([]);
  });

  it('every relative link and #anchor in README.md and docs/*.md resolves', () => {
    const links = pages().flatMap(relativeLinks);
    expect(links.length).toBeGreaterThan(20);
    const broken = links.flatMap((link) => {
      const why = brokenBecause(link);
      return why === null ? [] : [`${relative(ROOT, link.from)}: (${link.target}) ${why}`];
    });
    expect(broken).toEqual([]);
  });

  it('computes heading ids as GitHub does', () => {
    const ids = headingIds(
      ['# Talking to a real libvirtd (`--dialect libvirt`)', '## Tests (real `deno` binary, offline)', '## Load', '## Load', '```', '# not a heading', '```'].join('\n'),
    );
    expect([...ids]).toEqual(['talking-to-a-real-libvirtd---dialect-libvirt', 'tests-real-deno-binary-offline', 'load', 'load-1']);
  });
});
