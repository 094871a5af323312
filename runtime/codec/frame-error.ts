/** Why an inbound frame was refused. The host closes that one connection with `message` as its reason. */
export type FrameErrorCode =
  | 'malformed'
  | 'truncated'
  | 'oversized'
  | 'unknown-procedure'
  | 'wrong-program'
  | 'wrong-version'
  | 'wrong-type'
  | 'wrong-frame-kind'
  | 'flood';

export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
