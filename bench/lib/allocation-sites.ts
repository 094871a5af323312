/**
 * Where a stretch of work allocates, from V8's sampling heap profiler: bytes by allocation
 * site (the allocating function and its two callers), largest first.
 */
import { Session } from 'node:inspector/promises';

export interface AllocationSite {
  site: string;
  bytes: number;
}

export interface SamplingOptions {
  /** Mean bytes between samples (V8's default is 32 KiB). */
  samplingInterval?: number;
  /**
   * Only objects that outlived a scavenge: those still live, and those a full GC collected
   * (the ones that filled the old generation). Default: every allocation.
   */
  promotedOnly?: boolean;
}

export async function allocationSites(run: () => Promise<void> | void, options: SamplingOptions = {}): Promise<AllocationSite[]> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: options.samplingInterval ?? 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: !options.promotedOnly,
    });
    await run();
    const { profile } = await session.post('HeapProfiler.getSamplingProfile');
    await session.post('HeapProfiler.stopSampling');
    const bySite = new Map<string, number>();
    const walk = (node: (typeof profile)['head'], callers: string[]) => {
      const frame = node.callFrame;
      const here = frame.url ? `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules\/)?/, '')}:${frame.lineNumber + 1}` : frame.functionName || '(root)';
      const path = [here, ...callers].slice(0, 3);
      const site = path.join(' < ');
      if (node.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      for (const child of node.children) walk(child, path);
    };
    walk(profile.head, []);
    return [...bySite].map(([site, bytes]) => ({ site, bytes })).sort((a, b) => b.bytes - a.bytes);
  } finally {
    session.disconnect();
  }
}
