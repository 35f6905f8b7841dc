/**
 * npm run stack -- up [--nodes N] | status | down
 *                                           the local stack (idempotent); --nodes N runs N LiveKit
 *                                           nodes (livekit-server + livekit-sip each) on one Redis,
 *                                           and scales a stack that is already up
 * npm run stack -- run [--nodes N] -- <command...>
 *                                           run a command inside the stack's network, bringing the
 *                                           stack up first and down afterwards if it was not up
 * npm run stack -- restart <service> [--kill] [--down-ms N]
 *                                           stop one service of the running stack (its stop
 *                                           signal, or SIGKILL: a crash), keep it down N ms, start
 *                                           it again as before and wait until it is ready
 * npm start                                 the main job: stack + provisioning + agent worker
 *
 * SWITCHBOARD_NETWORK=netns (default, needs root) or loopback (see README).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  DEFAULT_CONFIG,
  DEFAULT_ENV,
  LivekitSipApi,
  loadSipConfig,
  runSipCommand,
} from '../sip-dispatch/index.js';
import {
  LOCAL_API_KEY,
  LOCAL_API_SECRET,
  localStackLayout,
  type NetworkMode,
} from '../src/config/index.js';
import { isSwitchboardError } from '../src/errors/index.js';
import { inNetwork } from './network.js';
import { LOG_DIR, RECORDS_DIR, REPO_ROOT } from './paths.js';
import { down, parseRestartArgs, RESTART_USAGE, restartService, status, up } from './stack.js';
import { stackNodes, takeNodesOption } from './topology.js';

const say = (line: string) => console.log(`[stack] ${line}`);

function networkMode(): NetworkMode {
  const mode = process.env.SWITCHBOARD_NETWORK ?? 'netns';
  if (mode !== 'netns' && mode !== 'loopback') {
    throw new Error(`SWITCHBOARD_NETWORK must be "netns" or "loopback", not "${mode}"`);
  }
  return mode;
}

/** Runs argv inside the stack's network with inherited stdio; resolves with its exit code. */
function runInNetwork(mode: NetworkMode, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [cmd, ...args] = inNetwork(localStackLayout(mode), argv);
  const child = spawn(cmd ?? '', args, { stdio: 'inherit', env });
  // Ctrl-C reaches the child directly (same process group); a SIGTERM sent to this process alone
  // (a service manager, CI) is passed on. Passing SIGINT on too would make it a second Ctrl-C,
  // which the agents CLI treats as "exit at once".
  const forward = () => child.kill('SIGTERM');
  process.on('SIGTERM', forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === null ? 1 : 128 + 2));
    });
  });
}

/**
 * Brings the stack up if needed, runs `body`, and takes down only what it brought up. Ctrl-C
 * reaches the body's child (it is in the same process group); this process stays alive until
 * the teardown has finished, however many signals arrive.
 */
async function withStack(
  mode: NetworkMode,
  body: () => Promise<number>,
  nodes?: number,
): Promise<number> {
  const keepAlive = () => undefined;
  process.on('SIGINT', keepAlive);
  process.on('SIGTERM', keepAlive);
  try {
    const started = await up(mode, say, nodes);
    try {
      return await body();
    } finally {
      if (started) await down(say);
    }
  } finally {
    process.off('SIGINT', keepAlive);
    process.off('SIGTERM', keepAlive);
  }
}

function stackEnv(mode: NetworkMode): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SWITCHBOARD_NETWORK: mode,
    CALL_RECORDS_DIR: process.env.CALL_RECORDS_DIR ?? RECORDS_DIR,
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const { nodes, rest } = takeNodesOption(args);
  const mode = networkMode();
  switch (command) {
    case 'up':
      await up(mode, say, nodes);
      say(`logs: ${LOG_DIR}`);
      return 0;
    case 'down':
      await down(say);
      return 0;
    case 'status': {
      const s = await status();
      if (s.mode === undefined) {
        say('stack is not running');
        return 3;
      }
      say(`mode ${s.mode}, ${s.nodes} LiveKit node(s), logs in ${LOG_DIR}`);
      for (const svc of s.services) {
        say(
          `${svc.name.padEnd(15)} pid ${String(svc.pid).padEnd(8)} ${svc.running ? 'running' : 'EXITED'} ${svc.ready ? 'ready' : 'NOT READY'}`,
        );
      }
      return s.services.every((x) => x.ready) ? 0 : 1;
    }
    case 'restart': {
      const parsed = parseRestartArgs(rest);
      if (!parsed.ok) {
        console.error(`${parsed.error}\n${RESTART_USAGE}`);
        return 2;
      }
      await restartService(parsed.name, parsed.options, say);
      return 0;
    }
    case 'run': {
      const cmd = rest[0] === '--' ? rest.slice(1) : rest;
      if (cmd.length === 0) throw new Error('usage: npm run stack -- run -- <command...>');
      return withStack(mode, () => runInNetwork(mode, cmd, stackEnv(mode)), nodes);
    }
    case 'start':
      return withStack(
        mode,
        async () => {
          const layout = localStackLayout(mode);
          const livekit = {
            url: `http://${layout.serviceIp}:${layout.ports.livekitHttp}`,
            apiKey: LOCAL_API_KEY,
            apiSecret: LOCAL_API_SECRET,
          };
          // The same code path as `npm run sip -- apply --env local`.
          const applied = await runSipCommand(['apply', '--env', DEFAULT_ENV], {
            out: (t) => console.log(t),
            err: (t) => console.error(t),
            color: process.stdout.isTTY && (process.env.NO_COLOR ?? '') === '',
            secret: (name) => process.env[name],
            connect: () => new LivekitSipApi(livekit),
            serverLabel: livekit.url,
          });
          if (applied !== 0) return applied;
          const { config } = await loadSipConfig(DEFAULT_CONFIG, DEFAULT_ENV);
          const number = Object.values(config.inboundTrunks)[0]?.numbers[0] ?? '';
          say(
            'the local stack is up and the demo line is provisioned (sip-dispatch/switchboard.yaml)',
          );
          const running = (await status()).nodes ?? 1;
          for (const node of stackNodes(layout, running)) {
            say(
              `call from a SIP phone:  sip:${number}@${node.ip}:${node.ports.sip}  (UDP, G.711)${running > 1 ? `, node ${node.index}` : ''}`,
            );
          }
          say(`talk from a browser:    http://localhost:${layout.ports.web}/`);
          say(`call records:           ${RECORDS_DIR}`);
          say('starting the agent worker (Ctrl-C stops it and the stack)');
          return runInNetwork(
            mode,
            [
              process.execPath,
              '--import',
              'tsx',
              join(REPO_ROOT, 'agents', 'receptionist.ts'),
              'dev',
            ],
            stackEnv(mode),
          );
        },
        nodes,
      );
    default:
      console.error(
        'usage: npm run stack -- up [--nodes N]|status|down|restart <service>|run [--nodes N] -- <command...>   (npm start runs the main job)',
      );
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(isSwitchboardError(err) ? `[stack] error [${err.code}]: ${err.message}` : err);
    process.exit(1);
  },
);
