/**
 * Figure 4, statechart steps: how many steps the host takes per connection per interval
 * in steady state at each frame rate (counted, deterministic), beside a host that steps
 * every frame; and how fast each way of stepping the machine goes (measured).
 */
import type { Figure, Measurement } from '../lib/result.ts';
import { interleave, measure } from '../lib/stats.ts';
import { steadySteps } from '../workers/steady-steps.ts';
import { stepRig, STEPPERS, type StepperKind } from '../workers/step-rate.ts';

const MAX_STEPS = 2;
const RATES = [0, 1, 10, 100, 1000];
const LABEL: Record<StepperKind, string> = {
  'snapshot-stepper': "host's SnapshotStepper (chosen)",
  'actor-send': 'live actor.send',
  'pure-transition': "XState's pure transition()",
};

const figure: Figure = {
  figure: 4,
  name: 'statechart steps',
  async run({ quick, runs, log }) {
    // The host stepping every frame at 1,000 frames/interval is the slow part: keep quick mode small.
    const connections = quick ? 10 : 100;
    const intervals = quick ? 10 : 30;
    const parts: Measurement[] = [];
    for (const rate of RATES) {
      const fast = steadySteps(false, connections, rate, intervals);
      const eager = steadySteps(true, connections, rate, intervals);
      if (fast.deaths + eager.deaths > 0) throw new Error(`a peer that answers was declared dead at rate ${rate}`);
      log(`rate ${rate}: ${fast.stepsPerInterval} steps/conn/interval (eager ${eager.stepsPerInterval}), ${fast.pingsPerInterval} PINGs`);
      parts.push(
        measure({
          name: rate === 0 ? 'peer only answers our PINGs' : `${rate} frame(s) per connection per interval`,
          unit: 'steps/conn/interval',
          samples: [fast.stepsPerInterval],
          baselineSamples: [eager.stepsPerInterval],
          baselineName: 'host stepping every frame',
          target: `<= ${MAX_STEPS}`,
          meets: (value) => value <= MAX_STEPS + 0.01, // + the one frame a window boundary can split
        }),
      );
    }
    const worst = parts.reduce((a, b) => ((b.value ?? 0) > (a.value ?? 0) ? b : a));

    const stepConnections = quick ? 200 : 1_000;
    const events = (kind: StepperKind) => (kind === 'pure-transition' ? 1 : 5) * (quick ? 5_000 : 40_000);
    const rigs = Object.fromEntries(STEPPERS.map((kind) => [kind, stepRig(kind, stepConnections)])) as Record<StepperKind, ReturnType<typeof stepRig>>;
    for (const kind of STEPPERS) rigs[kind].run(events(kind)); // warm-up
    const rates = await interleave(runs, STEPPERS, (kind) => events(kind) / (rigs[kind].run(events(kind)).cpuMs / 1000));
    for (const kind of STEPPERS) log(`${kind}: ${rates[kind].map((r) => (r / 1000).toFixed(0)).join(', ')} k steps/s`);
    for (const kind of ['snapshot-stepper', 'pure-transition'] as const) {
      parts.push(measure({ name: `step rate: ${LABEL[kind]}`, unit: 'steps/CPU-s', samples: rates[kind], baselineSamples: rates['actor-send'], baselineName: LABEL['actor-send'] }));
    }
    return {
      ...worst,
      name: `statechart steps in steady state (worst rate: ${worst.name})`,
      scale: `${connections} connections for ${intervals} intervals after 5 of warm-up, per rate; step rates over ${stepConnections.toLocaleString('en')} connections, ${runs} runs${quick ? ' (quick mode: fewer intervals and events)' : ''}`,
      parts,
      notes: [
        'Steps are counted with host.stats.steps on a virtual clock, so they are exact and the same on any machine.',
        'A chatty peer costs no step (its next PING is always an interval after its latest frame, so its deadline only moves in the queue); a peer that only answers costs one (its PONG is folded into the step that sends our next PING).',
        'Step rates: every connection alternates a folded sign of life and a due tick that sends a PING; per CPU-second of the process; ratio is against a live actor\'s send.',
      ],
    };
  },
};
export default figure;
