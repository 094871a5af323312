/**
 * The one call of libvirt's remote program this project makes: CONNECT_SUPPORTS_FEATURE
 * with VIR_DRV_FEATURE_PROGRAM_KEEPALIVE. A libvirt client learns this way that the
 * daemon runs keepalive; libvirt has no ADVERTISE message, and the daemon answers this
 * call before CONNECT_OPEN, starting its own keepalive for the client as it does
 * (src/remote/remote_daemon_dispatch.c, remoteDispatchConnectSupportsFeature).
 *
 * Numbers and layouts, from libvirt's protocol definitions:
 * - src/remote/remote_protocol.x: `const REMOTE_PROGRAM = 0x20008086`,
 *   `const REMOTE_PROTOCOL_VERSION = 1`, `REMOTE_PROC_CONNECT_SUPPORTS_FEATURE = 60`,
 *   `struct remote_connect_supports_feature_args { int feature; }`,
 *   `struct remote_connect_supports_feature_ret { int supported; }`.
 * - src/libvirt_internal.h: `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE = 10` ("remote party
 *   supports keepalive program").
 * - src/rpc/virnetprotocol.x: the header (see libvirt.ts), `VIR_NET_CALL = 0`,
 *   `VIR_NET_REPLY = 1`, `VIR_NET_OK = 0`, `VIR_NET_ERROR = 1`; an ERROR reply carries
 *   `struct virNetMessageError { int code; int domain; virNetMessageString message;
 *   int level; ... }` where a virNetMessageString is an XDR optional string (a 0/1 word,
 *   then length, bytes, zero padding to 4) of at most VIR_NET_MESSAGE_STRING_MAX bytes.
 */
import { FrameError } from './frame-error.ts';
import { decodeMessage, encodeMessage, MessageStatus, MessageType } from './libvirt.ts';

export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;
export const RemoteProc = { CONNECT_SUPPORTS_FEATURE: 60 } as const;
export const VIR_DRV_FEATURE_PROGRAM_KEEPALIVE = 10;
/** virnetprotocol.x */
export const VIR_NET_MESSAGE_STRING_MAX = 4194304;

/** The fields of libvirt's virNetMessageError a person needs; the rest are skipped. */
export interface RemoteError {
  /** virErrorNumber, e.g. 1 = VIR_ERR_INTERNAL_ERROR. */
  code: number;
  /** virErrorDomain, e.g. 7 = VIR_FROM_REMOTE. */
  domain: number;
  /** null when the daemon sent none or it could not be read. */
  message: string | null;
  /** virErrorLevel, 2 = VIR_ERR_ERROR; null when the payload ended before it. */
  level: number | null;
}

export type SupportsFeatureReply = { status: 'ok'; supported: number } | { status: 'error'; error: RemoteError };

/** The CALL: header (type CALL, the caller's serial, status OK) and `int feature`. */
export function encodeSupportsFeatureCall(serial: number, feature: number = VIR_DRV_FEATURE_PROGRAM_KEEPALIVE): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setInt32(0, feature);
  return encodeMessage(
    {
      prog: REMOTE_PROGRAM,
      vers: REMOTE_PROTOCOL_VERSION,
      proc: RemoteProc.CONNECT_SUPPORTS_FEATURE,
      type: MessageType.CALL,
      serial,
      status: MessageStatus.OK,
    },
    payload,
  );
}

/**
 * The REPLY to our call with `serial`, or null for any other frame (keepalive, another
 * program, another serial): those are ordinary traffic. Never throws: a reply to our
 * serial that is not a well-formed answer comes back as a FrameError.
 */
export function decodeSupportsFeatureReply(frame: Uint8Array, serial: number): SupportsFeatureReply | FrameError | null {
  const message = decodeMessage(frame);
  if (message instanceof FrameError) return message;
  const { header, payload } = message;
  if (header.prog !== REMOTE_PROGRAM || header.type !== MessageType.REPLY || header.serial !== serial) return null;
  if (header.vers !== REMOTE_PROTOCOL_VERSION) {
    return new FrameError('wrong-version', `remote program version ${header.vers}, expected ${REMOTE_PROTOCOL_VERSION}`);
  }
  if (header.proc !== RemoteProc.CONNECT_SUPPORTS_FEATURE) {
    return new FrameError('unknown-procedure', `reply to serial ${serial} is for procedure ${header.proc}, not CONNECT_SUPPORTS_FEATURE (60)`);
  }
  if (header.status === MessageStatus.OK) {
    const reader = new XdrReader(payload);
    const supported = reader.int();
    if (supported === null) return new FrameError('truncated', 'CONNECT_SUPPORTS_FEATURE reply has no "supported" word');
    return { status: 'ok', supported };
  }
  if (header.status === MessageStatus.ERROR) {
    const error = decodeRemoteError(payload);
    return error ? { status: 'error', error } : new FrameError('truncated', 'error reply too short for an error code and domain');
  }
  return new FrameError('malformed', `reply status ${header.status}, expected OK (0) or ERROR (1)`);
}

/** Best effort: code and domain are required; a message that cannot be read is null. */
export function decodeRemoteError(payload: Uint8Array): RemoteError | null {
  const reader = new XdrReader(payload);
  const code = reader.int();
  const domain = reader.int();
  if (code === null || domain === null) return null;
  const message = reader.optionalString(VIR_NET_MESSAGE_STRING_MAX);
  const level = message === undefined ? null : reader.int();
  return { code, domain, message: message ?? null, level };
}

/** One line for logs: "libvirt error 1 (domain 7): internal error: ...". */
export function describeRemoteError(error: RemoteError): string {
  return `libvirt error ${error.code} (domain ${error.domain}): ${error.message ?? '(no message)'}`;
}

/** Bounds-checked XDR reads: null (or undefined for a string) instead of reading past the end. */
class XdrReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  int(): number | null {
    if (this.#offset + 4 > this.#bytes.length) return null;
    const value = this.#view.getInt32(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** `string *` in XDR: null when absent, undefined when the bytes are not a valid one. */
  optionalString(max: number): string | null | undefined {
    const present = this.int();
    if (present === 0) return null;
    if (present !== 1) return undefined;
    const length = this.int();
    if (length === null || length < 0 || length > max) return undefined;
    const end = this.#offset + length;
    if (end > this.#bytes.length) return undefined;
    const text = new TextDecoder().decode(this.#bytes.subarray(this.#offset, end));
    this.#offset = end + ((4 - (length % 4)) % 4);
    return text;
  }
}
