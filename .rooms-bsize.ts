import { bundleClient } from '/work/wt-merge/bench/client-size.ts';
const b = await bundleClient();
console.log(b.raw, b.gzip);
for (const i of b.inputs.slice(0, 40)) console.log(i.bytes, i.path);
