/**
 * The server killed with SIGKILL mid-probe and restarted from its state file, as
 * separate processes on loopback. Peers: resuming Node clients (their own processes)
 * and raw sockets this test drives, so it decides exactly when each one talks.
 *
 * Bounds: a silent peer is dead DEATH after its last sign of life. A restart can only
 * delay that (a deadline missed while the server was down runs late, and the
 * statechart then gives the peer a full interval, as virkeepalive.c does), never bring
 * it forward. TOLERANCE covers the restarted process's timer and event loop on a
 * loaded 2-core machine; it is less than one interval, so a deadline one interval off
 * still fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteSnapshotStore } from '../../adapters/node/sqlite-store.ts';
import { createSessionSecret, hashSessionSecret } from '../../runtime/protocol/sessions.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';
import type { KeepaliveContext } from '../../actors/keepalive.ts';
import type { StoredConnection } from '../../runtime/host/store.ts';
import { actors, killAll, poll, spawnCli, spawnServer, type ActorView } from './helpers.ts';
import { FRAME, rawTcp, rawWs, upgradeStatus, type RawTcp, type RawWs } from './peers.ts';

const INTERVAL = 1500;
const COUNT = 2;
const DEATH = INTERVAL * (COUNT + 1);
const TOLERANCE = 600;
const KEEPALIVE = ['--interval', String(INTERVAL), '--count', String(COUNT)];
/** Node clients: their own bound (1000 * 5) outlasts the restart; reconnect backoff caps at 500 ms. */
const CLIENT = ['--resume', '--interval', '1000', '--count', '4'];

let dir: string;
const sockets: { close(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keepalive-restart-'));
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function ws(url: string, answer = false): Promise<RawWs> {
  const peer = await rawWs(url, answer);
  sockets.push({ close: () => peer.ws.terminate() });
  return peer;
}

async function tcp(url: string, answer = false): Promise<RawTcp> {
  const peer = await rawTcp(url, answer);
  sockets.push({ close: () => peer.socket.destroy() });
  return peer;
}

function elapse(ms: number): Promise<void> {
  const until = Date.now() + ms;
  return poll(() => Date.now() >= until, ms + 10_000, 25).then(() => undefined);
}

/** What the killed process left in its state file (read with the store the server uses). */
function stored(path: string): Map<string, KeepaliveContext & { state: string }> {
  const store = new SqliteSnapshotStore(path);
  try {
    const records: StoredConnection[] = store.load();
    return new Map(
      records.map((r) => {
        const snapshot = r.snapshot as unknown as { value: unknown; context: KeepaliveContext };
        const value = snapshot.value;
        const state = typeof value === 'string' ? value : Object.entries(value as Record<string, string>).map(([k, v]) => `${k}.${v}`)[0]!;
        return [r.id, { ...snapshot.context, state }];
      }),
    );
  } finally {
    store.close();
  }
}

const timing = (v: Pick<ActorView, 'state' | 'lastSignOfLife' | 'unanswered' | 'pingsSent' | 'wakeAt'>) => ({
  state: v.state,
  lastSignOfLife: v.lastSignOfLife,
  unanswered: v.unanswered,
  pingsSent: v.pingsSent,
  wakeAt: v.wakeAt,
});

/**
 * A restored connection nobody has talked to since: exactly as stored, or, if its
 * deadline passed while the server was down, one late PING on top (sent at restore). A
 * verdict that fell due within an interval of the restore is held until an interval after
 * it (the restart grace, runtime/host/restart-grace.ts): a slow restart, under load, finds
 * the silent peer out of PINGs.
 */
function expectRestored(view: ActorView, before: KeepaliveContext & { state: string }, restoredBy: number) {
  if (view.pingsSent === before.pingsSent) {
    const heldVerdict = before.unanswered >= COUNT && view.wakeAt !== before.wakeAt;
    if (!heldVerdict) return expect(timing(view)).toEqual(timing(before));
    expect({ ...timing(view), wakeAt: before.wakeAt }).toEqual(timing(before));
    expect(view.wakeAt!).toBeGreaterThan(before.wakeAt!);
    expect(view.wakeAt!).toBeLessThanOrEqual(restoredBy + INTERVAL);
    return;
  }
  expect(view).toMatchObject({ pingsSent: before.pingsSent + 1, unanswered: before.unanswered + 1, lastSignOfLife: before.lastSignOfLife });
  expect(view.wakeAt! - INTERVAL).toBeGreaterThanOrEqual(before.wakeAt!);
}

const deadLine = (id: string) => new RegExp(`${id} dead: peer dead: silent for (\\d+) ms`);

describe('SIGKILL and restart from the state file', () => {
  it('resumes every connection with its counters and deadlines; peers that come back live on, the others die by the rule', async () => {
    const state = join(dir, 'state.db');
    const first = await spawnServer([...KEEPALIVE, '--state', state]);
    const port = new URL(first.http).port;

    const nodeClient = spawnCli(['connect', first.ws, ...CLIENT]);
    const passiveClient = spawnCli(['connect', first.ws, ...CLIENT, '--no-ping']);
    const secrets = { gone: createSessionSecret(), back: createSessionSecret(), answering: createSessionSecret() };
    const withSession = (secret: string) => `${first.ws}?session=${secret}`;
    // Silent after ADVERTISE: mid-probe by the time of the kill.
    const gone = await ws(withSession(secrets.gone));
    const back = await ws(withSession(secrets.back));
    gone.ws.send(TEXT_FRAMES.ADVERTISE);
    back.ws.send(TEXT_FRAMES.ADVERTISE);
    const answering = await ws(withSession(secrets.answering), true);
    answering.ws.send(TEXT_FRAMES.ADVERTISE);
    // No way to come back: no session (WebSocket) or nowhere to carry one (TCP).
    const anonymous = await ws(first.ws, true);
    anonymous.ws.send(TEXT_FRAMES.ADVERTISE);
    const libvirt = await tcp(first.tcp, true);
    libvirt.socket.write(FRAME.ADVERTISE);
    await nodeClient.line(/connected to/);
    await passiveClient.line(/connected to/);

    // A second socket for a live connection's session is refused before the upgrade.
    expect((await upgradeStatus(withSession(secrets.answering))).status).toBe(409);

    await poll(() => gone.received.includes(TEXT_FRAMES.PING) && back.received.includes(TEXT_FRAMES.PING), INTERVAL * 4);
    // Reading /actors folds every pending sign of life and writes every snapshot: from
    // here to the kill, the silent peers' rows cannot change (their next deadline is an interval away).
    const before = await actors(first.http);
    first.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await first.exited();
    expect(before).toHaveLength(7);
    const bySession = new Map<string, ActorView>();
    for (const view of before) if (view.meta.sessionHash) bySession.set(view.meta.sessionHash, view);
    const ids = {
      gone: bySession.get(await hashSessionSecret(secrets.gone))!.id,
      back: bySession.get(await hashSessionSecret(secrets.back))!.id,
      answering: bySession.get(await hashSessionSecret(secrets.answering))!.id,
      tcp: before.find((v) => v.codec === 'libvirt')!.id,
    };
    const silent = before.filter((v) => v.id === ids.gone || v.id === ids.back);
    for (const view of silent) {
      expect(view).toMatchObject({ state: 'alive.probing', unanswered: 1, pingsSent: 1 });
      expect(killedAt, 'the kill came after the next PING: the machine is too slow for this test').toBeLessThan(view.wakeAt!);
    }

    // What survived the SIGKILL: every connection, once; the silent ones exactly as last stepped.
    const rows = stored(state);
    expect([...rows.keys()].sort()).toEqual(before.map((v) => v.id).sort());
    for (const view of silent) expect(timing(rows.get(view.id)!)).toEqual(timing(view));

    const second = await spawnServer(['--port', port, ...KEEPALIVE, '--state', state]);
    const healthyAt = Date.now();
    await second.line(/restored 7 connection\(s\) from /);
    expect(await second.line(/state\s+/)).toContain('(7 connection(s) restored)');
    const after = await actors(second.http);
    expect(after.map((v) => v.id).sort()).toEqual([...rows.keys()].sort());
    expect(new Set(after.map((v) => v.id)).size).toBe(after.length);
    for (const id of [ids.gone, ids.back]) expectRestored(after.find((v) => v.id === id)!, rows.get(id)!, Date.now());
    // Counters carry on from the stored ones, whoever has reattached by now.
    for (const view of after) {
      const row = rows.get(view.id)!;
      expect(view.pingsSent).toBeGreaterThanOrEqual(row.pingsSent);
      expect(view.pingsReceived).toBeGreaterThanOrEqual(row.pingsReceived);
      expect(view.pongsSent).toBeGreaterThanOrEqual(row.pongsSent);
      expect(view.advertised).toBe(true);
    }

    // Two peers come back with their secrets, to the same actors.
    const backAgain = await ws(`${second.ws}?session=${secrets.back}`, true);
    const answeringAgain = await ws(`${second.ws}?session=${secrets.answering}`, true);
    await second.line(new RegExp(`${ids.back} resumed: its peer reattached`));
    await second.line(new RegExp(`${ids.answering} resumed: its peer reattached`));
    expect((await upgradeStatus(`${second.ws}?session=${secrets.back}`)).status).toBe(409);
    expect((await upgradeStatus(`${second.ws}?session=${secrets.answering}`)).status).toBe(409);
    await nodeClient.line(/resumed on a new socket/);
    await passiveClient.line(/resumed on a new socket/);

    // The peer that never returns: dead at its bound after its last sign of life.
    const goneLine = await second.line(deadLine(ids.gone), DEATH * 2 + TOLERANCE * 2);
    const silentFor = Number(goneLine.match(deadLine(ids.gone))![1]);
    const missedBy = Math.max(0, healthyAt - rows.get(ids.gone)!.wakeAt!);
    expect(silentFor).toBeGreaterThanOrEqual(DEATH);
    expect(silentFor).toBeLessThanOrEqual(DEATH + missedBy + TOLERANCE);
    expect(goneLine).toContain(`${COUNT} keepalive PING(s) unanswered`);
    // Those with no way back run out too, never earlier than the rule allows.
    for (const id of before.filter((v) => !v.meta.sessionHash).map((v) => v.id)) {
      const line = await second.line(deadLine(id), DEATH * 2 + (healthyAt - killedAt) + TOLERANCE * 2);
      const lost = Number(line.match(deadLine(id))![1]);
      expect(lost).toBeGreaterThanOrEqual(DEATH);
      expect(lost).toBeLessThanOrEqual(DEATH + (healthyAt - killedAt) + TOLERANCE);
    }

    // Those that came back live on: more than a whole death bound on either side.
    await elapse(DEATH + INTERVAL);
    const final = await actors(second.http);
    const alive = final.map((v) => v.id).sort();
    const clientIds = before.filter((v) => v.meta.sessionHash && ![ids.gone, ids.back, ids.answering].includes(v.id)).map((v) => v.id);
    expect(clientIds).toHaveLength(2);
    expect(alive).toEqual([ids.back, ids.answering, ...clientIds].sort());
    for (const view of final) {
      expect(view.state).toMatch(/^alive/);
      expect(view.pingsReceived + view.pongsReceived).toBeGreaterThan(rows.get(view.id)!.pingsReceived + rows.get(view.id)!.pongsReceived);
    }
    expect(final.find((v) => v.id === ids.back)!.pingsSent).toBeGreaterThan(rows.get(ids.back)!.pingsSent);
    // None forgotten: each stored connection is alive now or was declared dead, never both.
    const declared = second.stdout.filter((l) => / dead: peer dead/.test(l)).map((l) => l.split(' ')[1]!);
    expect([...declared, ...alive].sort()).toEqual([...rows.keys()].sort());
    for (const client of [nodeClient, passiveClient]) {
      expect(client.exitCode).toBeNull();
      expect(client.stderr.join('\n')).not.toMatch(/declared dead/);
    }
    expect(backAgain.closed).toBeNull();
    expect(answeringAgain.closed).toBeNull();
    expect(backAgain.received.filter((f) => f === TEXT_FRAMES.PING).length).toBeGreaterThan(0);
  });

  it('loses only the signs of life since each last step: the restored actor PINGs early, and a peer that is back is never declared dead', async () => {
    const state = join(dir, 'state.db');
    const first = await spawnServer([...KEEPALIVE, '--state', state]);
    const port = new URL(first.http).port;
    const secret = createSessionSecret();
    const chatty = await ws(`${first.ws}?session=${secret}`);
    chatty.ws.send(TEXT_FRAMES.ADVERTISE);
    // Application traffic every 100 ms: the server never needs to PING, and each frame is
    // only recorded on the fast path, folded into the actor at its next step.
    let sent = 0;
    let lastSent = 0;
    const talk = setInterval(() => {
      chatty.ws.send(`app ${++sent}`);
      lastSent = Date.now();
    }, 100);
    try {
      await elapse(INTERVAL * 1.5);
      // /actors folds and writes: the last step before the kill.
      const [view] = await actors(first.http);
      const sentAtView = sent;
      await poll(() => sent >= sentAtView + 4, INTERVAL);
      clearInterval(talk);
      first.proc.kill('SIGKILL');
      const killedAt = Date.now();
      await first.exited();
      expect(killedAt, 'a step ran between the view and the kill: the machine is too slow for this test').toBeLessThan(view!.wakeAt!);

      // Lost: exactly the frames after that step, nothing before it.
      const row = stored(state).get(view!.id)!;
      expect(timing(row)).toEqual(timing(view!));
      expect(row.messagesReceived).toBe(view!.messagesReceived);
      expect(view!.messagesReceived).toBeLessThanOrEqual(sentAtView);
      expect(sent - view!.messagesReceived).toBeGreaterThanOrEqual(4);
      expect(lastSent - row.lastSignOfLife).toBeGreaterThanOrEqual(300);
      // So the stored deadline is earlier than the one the server would have had.
      expect(row.wakeAt!).toBeLessThan(lastSent + INTERVAL);

      const second = await spawnServer(['--port', port, ...KEEPALIVE, '--state', state]);
      // The restored actor PINGs at the stored deadline (into the void: nobody is attached yet).
      const [probing] = await poll(async () => {
        const list = await actors(second.http);
        return list[0]!.pingsSent === row.pingsSent + 1 && list;
      }, INTERVAL * 3);
      expect(probing).toMatchObject({ id: view!.id, state: 'alive.probing', unanswered: 1, lastSignOfLife: row.lastSignOfLife });
      expect(probing!.wakeAt! - INTERVAL).toBeGreaterThanOrEqual(row.wakeAt!);

      // The peer comes back and answers: no false death, across more than a whole bound.
      const again = await ws(`${second.ws}?session=${secret}`, true);
      again.ws.send('app again');
      await second.line(new RegExp(`${view!.id} resumed`));
      await elapse(DEATH + INTERVAL);
      const [live] = await actors(second.http);
      expect(live).toMatchObject({ id: view!.id, state: expect.stringMatching(/^alive/) });
      expect(live!.pingsSent).toBeGreaterThan(row.pingsSent + 1);
      expect(second.stdout.filter((l) => / dead: /.test(l))).toEqual([]);
      expect(again.closed).toBeNull();
    } finally {
      clearInterval(talk);
    }
  });

  it('SIGTERM with a state file keeps the connections for the next process; a second server on the same file refuses to start', async () => {
    const state = join(dir, 'state.db');
    const first = await spawnServer([...KEEPALIVE, '--state', state]);
    const port = new URL(first.http).port;
    const resuming = spawnCli(['connect', first.ws, ...CLIENT]);
    const plain = spawnCli(['connect', first.ws, '--interval', '1000', '--count', '4']);
    await resuming.line(/ <- P(ING|ONG)$/);
    await plain.line(/ <- P(ING|ONG)$/);
    // Opened once the CLIs are up (their start takes seconds on a loaded machine): its bound is 3 s.
    const silent = await ws(`${first.ws}?session=${createSessionSecret()}`);
    silent.ws.send(TEXT_FRAMES.ADVERTISE);

    const rival = spawnCli(['serve', '--port', '0', '--tcp-port', '0', '--state', state]);
    expect(await rival.exited()).toBe(1);
    expect(rival.stderr.join('\n')).toContain(`state file ${state} is in use by another process`);

    await poll(async () => (await actors(first.http)).length === 3);
    first.proc.kill('SIGTERM');
    expect(await first.exited()).toBe(0);
    expect(first.stdout.join('\n')).toContain(`SIGTERM: keeping 3 connection(s) in ${state} for the next start`);
    const rows = stored(state);
    expect(rows.size).toBe(3);
    await poll(() => silent.closed !== null);
    expect(silent.closed).toEqual({ code: 1012, reason: 'server restarting (SIGTERM)' });
    // Without --resume a restarting server is a clean goodbye.
    expect(await plain.exited()).toBe(0);
    expect(plain.stdout.join('\n')).toMatch(/connection closed: server closed the connection \(1012\): server restarting \(SIGTERM\)/);
    await resuming.line(/\(1012\): server restarting \(SIGTERM\); reconnecting in \d+ ms \(attempt 1\)/);

    const second = await spawnServer(['--port', port, ...KEEPALIVE, '--state', state]);
    // A graceful stop folded everything first: the silent peer's row is its exact state.
    const after = await actors(second.http);
    expect(after.map((v) => v.id).sort()).toEqual([...rows.keys()].sort());
    const silentId = [...rows.keys()].find((id) => rows.get(id)!.pongsReceived === 0 && rows.get(id)!.pingsReceived === 0)!;
    expectRestored(after.find((v) => v.id === silentId)!, rows.get(silentId)!, Date.now());
    await resuming.line(/resumed on a new socket/);
    await elapse(INTERVAL * 2);
    expect(resuming.exitCode).toBeNull();
    expect((await actors(second.http)).some((v) => v.id !== silentId && /^alive/.test(v.state))).toBe(true);
  });
});
