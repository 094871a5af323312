/**
 * The browser client's size as a web app ships it: `adapters/browser/index.ts` bundled by
 * esbuild (minified ESM, platform=browser, xstate and nanoid included), raw and gzipped
 * (level 9), with the inputs that take the most room.
 *
 *   node bench/client-size.ts            # the figure and the biggest inputs
 *   node bench/client-size.ts --out F    # also write the bundle to F
 *
 * `test/browser/bundle.test.ts` holds it to 30 KiB gzipped, free of `node:` modules, and
 * the Chromium tests load the same bundle.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export const CLIENT_ENTRY = fileURLToPath(new URL('../adapters/browser/index.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ClientBundle {
  code: string;
  raw: number;
  gzip: number;
  /** Bytes each input file contributes to the minified output, largest first. */
  inputs: { path: string; bytes: number }[];
}

export async function bundleClient(): Promise<ClientBundle> {
  const result = await build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.text;
  const output = Object.values(result.metafile.outputs)[0]!;
  const inputs = Object.entries(output.inputs)
    .map(([path, { bytesInOutput }]) => ({ path, bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { code, raw: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length, inputs };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bundle = await bundleClient();
  const out = process.argv.indexOf('--out');
  if (out > 0 && process.argv[out + 1]) writeFileSync(process.argv[out + 1]!, bundle.code);
  console.log(`keepalive-actors/client: ${kib(bundle.raw)} minified, ${kib(bundle.gzip)} gzipped (${bundle.raw} / ${bundle.gzip} bytes)`);
  for (const { path, bytes } of bundle.inputs.slice(0, 12)) console.log(`  ${kib(bytes).padStart(9)}  ${path}`);
}
