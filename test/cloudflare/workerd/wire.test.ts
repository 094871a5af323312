/**
 * What goes over the WebSocket: the text dialect, libvirt's binary frames with
 * `?codec=libvirt`, and bad input, which closes only the offending connection.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeMessage, KEEPALIVE_PROGRAM, KeepaliveProc, MessageStatus, MessageType } from '../../../runtime/codec/libvirt.ts';
import { connect, eventually, fakeClock, hubStub, INTERVAL, runAlarm, stats, view } from './helpers.ts';

const keepalive = (proc: number, overrides: Partial<Parameters<typeof encodeMessage>[0]> = {}) =>
  encodeMessage({ prog: KEEPALIVE_PROGRAM, vers: 1, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK, ...overrides });
const PING = keepalive(KeepaliveProc.PING);
const PONG = keepalive(KeepaliveProc.PONG);
const ADVERTISE = keepalive(KeepaliveProc.ADVERTISE);

afterEach(() => {
  vi.useRealTimers();
});

describe('libvirt frames over binary WebSocket messages (?codec=libvirt)', () => {
  it('answers a binary PING itself (no auto-response for bytes), PINGs on its alarm and takes binary PONGs', async () => {
    const clock = fakeClock();
    const hub = 'libvirt';
    const stub = hubStub(hub);
    const peer = await connect(hub, '?codec=libvirt');
    peer.ws.send(ADVERTISE);
    await eventually(async () => expect((await view(stub, peer.id))?.advertised).toBe(true));
    expect(await view(stub, peer.id)).toMatchObject({ codec: 'libvirt', state: 'alive.watching' });

    peer.ws.send(PING);
    expect(await peer.frameCount(1)).toEqual([PONG]);
    // Binary PINGs do wake the object: that is what the benchmark's "wakes caused by PINGs" counts.
    expect((await stats(stub)).wakes).toMatchObject({ messages: 2, pings: 1 });

    clock.at(INTERVAL);
    await runAlarm(stub);
    expect((await peer.frameCount(2))[1]).toEqual(PING);
    peer.ws.send(PONG);
    await eventually(async () => expect(await view(stub, peer.id)).toMatchObject({ state: 'alive.watching', pongsReceived: 1, pingsReceived: 1, pongsSent: 1 }));
    // Other programs' frames are application traffic: a sign of life.
    peer.ws.send(encodeMessage({ prog: 0x20008086, vers: 1, proc: 66, type: MessageType.CALL, serial: 7, status: MessageStatus.OK }));
    await eventually(async () => expect((await view(stub, peer.id))?.messagesReceived).toBe(1));
    peer.ws.close(1000, 'done');
  });
});

describe('bad input', () => {
  it.each([
    ['an unknown text keepalive message', '', 'keepalive:REBOOT', /^protocol error \(unknown-procedure\)/],
    ['a text frame on the libvirt dialect', '?codec=libvirt', 'hello', /^protocol error \(wrong-frame-kind\)/],
    ['a truncated libvirt frame', '?codec=libvirt', PING.subarray(0, 10), /^protocol error \(truncated\)/],
    ['a libvirt frame whose length word lies', '?codec=libvirt', new Uint8Array([0, 0, 1, 0, ...PING.subarray(4)]), /^protocol error \(malformed\)/],
    ['an unknown keepalive procedure', '?codec=libvirt', keepalive(9), /^protocol error \(unknown-procedure\)/],
    ['a wrong keepalive version', '?codec=libvirt', keepalive(KeepaliveProc.PING, { vers: 2 }), /^protocol error \(wrong-version\)/],
  ])('closes only the connection that sent %s, with the reason', async (_, query, frame, reason) => {
    const hub = `bad-${crypto.randomUUID()}`;
    const stub = hubStub(hub);
    const bystander = await connect(hub);
    bystander.ws.send('keepalive:ADVERTISE');
    const offender = await connect(hub, query);
    offender.ws.send(frame);
    const close = await offender.closed;
    expect(close.code).toBe(4000);
    expect(close.reason).toMatch(reason);
    await eventually(async () => expect((await stats(stub)).connections).toBe(1));
    expect(await view(stub, bystander.id)).toMatchObject({ advertised: true });
    expect(bystander.isClosed).toBe(false);
    bystander.ws.close(1000, 'done');
  });

  it('closes a peer that floods binary PINGs past the per-interval limit, and keeps serving the others', async () => {
    fakeClock();
    const hub = 'flood';
    const stub = hubStub(hub);
    const bystander = await connect(hub);
    bystander.ws.send('keepalive:ADVERTISE');
    const flooder = await connect(hub, '?codec=libvirt');
    flooder.ws.send(ADVERTISE);
    for (let i = 0; i < 101; i++) flooder.ws.send(PING);
    const close = await flooder.closed;
    expect(close.reason).toBe(`protocol error (flood): more than 100 PINGs within ${INTERVAL} ms`);
    expect(flooder.frames).toHaveLength(100);
    await eventually(async () => expect((await stats(stub)).connections).toBe(1));
    expect(bystander.isClosed).toBe(false);
    bystander.ws.close(1000, 'done');
  });
});
