import type { TransferOptions } from './options.js';
import type { TransferFailure, TransferOutcome } from './outcome.js';
import type {
  ConsultDecision,
  ConsultPort,
  HoldPort,
  JoinedCall,
  WarmTransferPorts,
} from './ports.js';

/** How the fake world answers a warm transfer, step by step. */
export interface FakeTransferScript {
  /** The human answers (`answer`), the dial fails, or it rings until the caller's signal aborts. */
  dial?: 'answer' | 'ring' | TransferFailure;
  /** The human's decision, or `wait` until the caller's signal aborts. */
  decision?: ConsultDecision | 'wait';
  /** One outcome per REFER, in order; the last one repeats. */
  refer?: TransferOutcome[];
  move?: 'moved' | 'unsupported' | 'failed';
  bridge?: 'connects' | 'fails';
  /** The human hangs up right after deciding. */
  humanLeavesAfterDecision?: boolean;
  /** The step that throws an unexpected error instead of answering. */
  throwAt?: 'hold' | 'release' | 'dial' | 'brief' | 'refer' | 'move' | 'bridge';
  /** Steps that never answer (a stream that hangs, a server that never replies). */
  hangAt?: ('hold' | 'dial' | 'brief' | 'refer' | 'move' | 'bridge' | 'tell' | 'stopAgent')[];
}

/** A step that never settles. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/**
 * In-memory ports for unit tests of the warm-transfer orchestration: answers from a script and
 * a log of everything asked of it, in order (`events`), with the caller's hold state.
 */
export class FakeTransferPorts implements WarmTransferPorts {
  readonly events: string[] = [];
  private readonly hooks: { event: string; run: () => void }[] = [];
  onHold = false;
  /** Whether the caller's agent session hears and speaks (false while on hold or handed off). */
  sessionLive = true;
  readonly hold: HoldPort;
  readonly consult: FakeConsult;
  private referCalls = 0;

  constructor(private readonly script: FakeTransferScript = {}) {
    this.hold = {
      start: () => {
        this.log('hold.start');
        if (script.throwAt === 'hold') return Promise.reject(new TypeError('hold failed'));
        if (script.hangAt?.includes('hold') === true) return never();
        this.onHold = true;
        this.sessionLive = false;
        return Promise.resolve();
      },
      release: (resumeSession) => {
        this.log(resumeSession ? 'hold.release resume' : 'hold.release');
        if (script.throwAt === 'release') return Promise.reject(new Error('release failed'));
        this.onHold = false;
        if (resumeSession) this.sessionLive = true;
        return Promise.resolve();
      },
    };
    this.consult = new FakeConsult(script, (e) => this.log(e));
  }

  /** Runs `run` (e.g. the caller hanging up) right after `event` is logged. */
  after(event: string, run: () => void): void {
    this.hooks.push({ event, run });
  }

  private log(event: string): void {
    this.events.push(event);
    for (const hook of this.hooks) if (hook.event === event) hook.run();
  }

  refer(target: string): Promise<TransferOutcome> {
    this.log(`refer ${target}`);
    if (this.script.throwAt === 'refer') return Promise.reject(new Error('refer failed'));
    if (this.script.hangAt?.includes('refer') === true) return never();
    const outcomes = this.script.refer ?? [{ status: 'completed', method: 'refer' }];
    const outcome = outcomes[Math.min(this.referCalls++, outcomes.length - 1)];
    return Promise.resolve(outcome ?? { status: 'completed', method: 'refer' });
  }

  moveHuman(): Promise<'moved' | 'unsupported' | 'failed'> {
    this.log('move');
    if (this.script.throwAt === 'move') return Promise.reject(new Error('move failed'));
    if (this.script.hangAt?.includes('move') === true) return never();
    return Promise.resolve(this.script.move ?? 'unsupported');
  }

  bridge(): Promise<JoinedCall | undefined> {
    this.log('bridge');
    if (this.script.throwAt === 'bridge') return Promise.reject(new Error('bridge failed'));
    if (this.script.hangAt?.includes('bridge') === true) return never();
    if (this.script.bridge === 'fails') return Promise.resolve(undefined);
    return Promise.resolve({
      method: 'bridge',
      consultRoomName: this.consult.roomName,
      humanRoom: undefined,
      bridge: undefined,
    });
  }
}

class FakeConsult implements ConsultPort {
  readonly roomName = 'fake-room-consult';
  readonly transcript: { role: 'agent' | 'human'; text: string }[] = [];
  private present = false;

  constructor(
    private readonly script: FakeTransferScript,
    private readonly log: (event: string) => void,
  ) {}

  get humanPresent(): boolean {
    return this.present;
  }

  dial(
    human: NonNullable<TransferOptions['human']>,
    _ringingTimeoutMs: number,
    signal: AbortSignal,
  ): Promise<TransferFailure | undefined> {
    this.log(`consult.dial ${human.number}`);
    if (this.script.throwAt === 'dial')
      return Promise.reject(Object.assign(new Error('connect failed'), { code: 'unavailable' }));
    if (this.script.hangAt?.includes('dial') === true) return never();
    const dial = this.script.dial ?? 'answer';
    if (dial === 'answer') {
      this.present = true;
      return Promise.resolve(undefined);
    }
    if (dial === 'ring')
      return untilAborted(signal, {
        status: 'caller_hung_up',
        detail: 'the caller hung up while the human was dialled',
      });
    return Promise.resolve(dial);
  }

  brief(briefing: string, _timeoutMs: number, signal: AbortSignal): Promise<ConsultDecision> {
    this.log('consult.brief');
    this.transcript.push({ role: 'agent', text: briefing });
    if (this.script.throwAt === 'brief') return Promise.reject(new Error('brief failed'));
    if (this.script.hangAt?.includes('brief') === true) return never();
    const decision = this.script.decision ?? { status: 'accepted', by: 'keypad', at: new Date() };
    if (this.script.humanLeavesAfterDecision === true) this.present = false;
    if (decision === 'wait')
      return untilAborted(signal, {
        status: 'caller_hung_up',
        detail: 'the caller hung up during the briefing',
      });
    return Promise.resolve(decision);
  }

  tell(text: string): Promise<void> {
    this.log(`consult.tell ${text}`);
    this.transcript.push({ role: 'agent', text });
    if (this.script.hangAt?.includes('tell') === true) return never();
    return Promise.resolve();
  }

  stopAgent(): Promise<void> {
    this.log('consult.stopAgent');
    if (this.script.hangAt?.includes('stopAgent') === true) return never();
    return Promise.resolve();
  }

  end(): Promise<void> {
    this.log('consult.end');
    this.present = false;
    return Promise.resolve();
  }

  leave(): Promise<void> {
    this.log('consult.leave');
    return Promise.resolve();
  }
}

function untilAborted<T>(signal: AbortSignal, value: T): Promise<T> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(value);
    else signal.addEventListener('abort', () => resolve(value), { once: true });
  });
}
