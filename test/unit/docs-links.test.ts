/**
 * The documentation's relative links resolve: every link in README.md and docs/*.md points at a
 * file (or folder) of the repository, and a `#fragment` at a heading of the target page, by
 * GitHub's anchor rules. External links (https:, mailto:) are not checked.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAGES = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(ROOT, 'docs', name)),
];

/** The page without fenced code blocks and HTML comments, where nothing is a link or heading. */
function prose(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.replace(/<!--[\s\S]*?-->/g, '').split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker !== undefined) fence = marker;
    else if (fence !== undefined && marker?.startsWith(fence) === true) fence = undefined;
    else if (fence === undefined) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped, spaces to '-'. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a page, with GitHub's -1, -2 ... for repeated headings. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(readFileSync(file, 'utf8'))) {
    const text = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const base = slug(text);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Relative link targets of a page: inline links and images, and reference definitions. */
function relativeLinks(file: string): string[] {
  const targets: string[] = [];
  for (const line of prose(readFileSync(file, 'utf8'))) {
    const text = line.replace(/(`+)[^`]*?\1/g, '');
    for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      targets.push(m[1] ?? '');
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)/.exec(text)?.[1];
    if (definition !== undefined) targets.push(definition);
  }
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('//'));
}

/** Why a link does not resolve, or undefined when it does. */
function problem(file: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = path === '' ? file : resolve(dirname(file), path);
  if (!resolved.startsWith(ROOT)) return `${target}: outside the repository`;
  if (!existsSync(resolved)) return `${target}: no file ${relative(ROOT, resolved)}`;
  if (fragment === undefined || !resolved.endsWith('.md')) return undefined;
  if (!anchors(resolved).has(fragment))
    return `${target}: no heading #${fragment} in ${relative(ROOT, resolved)}`;
  return undefined;
}

describe('GitHub heading anchors', () => {
  it.each([
    ['Write your own agent', 'write-your-own-agent'],
    [
      "1. Where the carrier sends calls: LiveKit's SIP endpoint",
      '1-where-the-carrier-sends-calls-livekits-sip-endpoint',
    ],
    [
      'Notes on `@livekit/agents` 1.9.0 and livekit-server',
      'notes-on-livekitagents-190-and-livekit-server',
    ],
    ['From carrier to `switchboard.yaml`', 'from-carrier-to-switchboardyaml'],
    ['CALL_RECORDS_DIR and [the spool](x.md)', 'call_records_dir-and-the-spool'],
  ])('%s -> #%s', (heading, anchor) => {
    expect(slug(heading)).toBe(anchor);
  });
});

describe('documentation links', () => {
  it('finds the pages and their links', () => {
    expect(PAGES.map((p) => relative(ROOT, p))).toContain('README.md');
    expect(PAGES.length).toBeGreaterThan(1);
    expect(relativeLinks(join(ROOT, 'README.md')).length).toBeGreaterThan(5);
  });

  it.each(PAGES.map((p) => [relative(ROOT, p), p]))(
    '%s: every relative link resolves',
    (_name, file) => {
      const broken = relativeLinks(file)
        .map((target) => problem(file, target))
        .filter((p) => p !== undefined);
      expect(broken).toEqual([]);
    },
  );
});
