/**
 * deploy/kubernetes: every YAML document is a valid Kubernetes object of its kind (the OpenAPI
 * schemas that kubernetes-models ships, used offline), has no field its kind does not define, and
 * agrees with this package: the environment variables are src/config/env.ts's and its parser
 * accepts the ConfigMap, the readiness probe asks the real health server, the grace period covers
 * the drain, a rollout never stops a worker before its replacement is ready, and no secret value
 * is written in the repository.
 *
 * The schemas alone do not catch a misspelt field (Kubernetes' OpenAPI allows unknown properties;
 * the API server rejects them at apply time), so each document is also type-checked against the
 * package's TypeScript interfaces, whose excess-property check names any unknown field.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import {
  PodDisruptionBudget,
  type IPodDisruptionBudget,
} from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ENV_VARIABLES, parseConfig } from '../../src/config/env.js';
import { LOCAL_API_SECRET } from '../../src/config/local-stack.js';
import { startHealthServer, type WorkerPhase } from '../../src/worker/health.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = join(ROOT, 'deploy/kubernetes');

/**
 * What the worker does after AGENT_DRAIN_TIMEOUT_MS before it can exit: @livekit/agents 1.9.0
 * gives each job process 60 s to shut down (ServerOptions shutdownProcessTimeout). Unit: s.
 */
const FRAMEWORK_SHUTDOWN_PROCESS_TIMEOUT_S = 60;
/**
 * bench/RESULTS.md "Density" (the compiled worker, offline models, 2-core test machine), the
 * largest of its figures: worker tree idle 466 MiB PSS, 127 MiB more per call. The memory limit
 * must cover them for the calls the worker takes in this container. Unit: MiB.
 */
const MEASURED_IDLE_MIB = 466;
const MEASURED_PER_CALL_MIB = 127;
/** Environment variables whose value is a credential: never in a ConfigMap or a literal value. */
const SECRET_NAME = /(_API_KEY|_SECRET|_WORKER_TOKEN)$/;
/** A placeholder in secret.example.yaml: `<what goes here>`. */
const PLACEHOLDER = /^<[^<>]+>$/;

/** Each kind the manifests may use: its model (schema validation) and TypeScript interface. */
const KINDS = {
  'apps/v1 Deployment': { model: Deployment, types: ['apps/v1/Deployment', 'IDeployment'] },
  'policy/v1 PodDisruptionBudget': {
    model: PodDisruptionBudget,
    types: ['policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
  },
  'autoscaling/v2 HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    types: ['autoscaling/v2/HorizontalPodAutoscaler', 'IHorizontalPodAutoscaler'],
  },
  'v1 ConfigMap': { model: ConfigMap, types: ['v1/ConfigMap', 'IConfigMap'] },
  'v1 Secret': { model: Secret, types: ['v1/Secret', 'ISecret'] },
} as const;
type KindKey = keyof typeof KINDS;
const isKnownKind = (kind: string): kind is KindKey => kind in KINDS;
const KUSTOMIZATION = 'kustomize.config.k8s.io/v1beta1 Kustomization';
interface Kustomization {
  resources: string[];
  images: { name: string }[];
}

interface Manifest {
  file: string;
  index: number;
  kind: string;
  doc: Record<string, unknown>;
}

function loadManifests(): Manifest[] {
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((parsed, index) => {
      if (parsed.errors.length > 0 || parsed.warnings.length > 0)
        throw new Error(`${file}[${index}]: ${[...parsed.errors, ...parsed.warnings].join('; ')}`);
      const doc = parsed.toJS() as Record<string, unknown>;
      return { file, index, kind: `${String(doc.apiVersion)} ${String(doc.kind)}`, doc };
    }),
  );
}

const manifests = loadManifests();
/** The documents of one kind, typed as its interface (the schema tests below check that they are). */
const ofKind = <T>(kind: KindKey | typeof KUSTOMIZATION): T[] =>
  manifests.filter((m) => m.kind === kind).map((m) => m.doc as T);
const deployment = ofKind<IDeployment>('apps/v1 Deployment')[0]!;
const pod = deployment.spec!.template.spec!;
const container = pod.containers[0]!;
const kustomization = ofKind<Kustomization>(KUSTOMIZATION)[0]!;
const configMaps = ofKind<IConfigMap>('v1 ConfigMap');
const configMapName = container.envFrom?.[0]?.configMapRef?.name;
const configMapData = configMaps.find((c) => c.metadata?.name === configMapName)?.data ?? {};
const secrets = ofKind<ISecret>('v1 Secret');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** The machine the worker sees in the container: its CPU and memory limits (cgroup). */
const containerMachine = {
  cores: Number(container.resources?.limits?.cpu ?? Number.NaN),
  memoryMiB: mebibytes(container.resources?.limits?.memory),
};
/** The ConfigMap through the real parser, with stand-ins for what comes from the Secret. */
const parseConfigMap = () =>
  parseConfig(
    {
      ...configMapData,
      LIVEKIT_URL: 'wss://livekit.example.com',
      LIVEKIT_API_KEY: 'stand-in',
      LIVEKIT_API_SECRET: 'stand-in'.padEnd(32, '-'),
      OPENAI_API_KEY: 'stand-in',
    },
    containerMachine,
  );
/** Its parse, or, when it does not parse (the test saying so fails, naming why), the defaults. */
const config = (() => {
  try {
    return parseConfigMap();
  } catch {
    return parseConfig({}, containerMachine);
  }
})();

/** A probe's port: a container port's name, or the number itself. */
function portOf(port: number | string | undefined): number | undefined {
  if (typeof port !== 'string') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** The port and path a probe asks (httpGet, or tcpSocket without a path). */
function targetOf(probe: IProbe | undefined): { port?: number; path?: string } {
  const http = probe?.httpGet;
  if (http !== undefined) return { port: portOf(http.port), path: http.path ?? '/' };
  return { port: portOf(probe?.tcpSocket?.port) };
}

function mebibytes(quantity: string | number | undefined): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(String(quantity));
  if (m === null) throw new Error(`unexpected memory quantity ${quantity} (use Mi or Gi)`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

describe('deploy/kubernetes: schema', () => {
  it('has the worker Deployment, its ConfigMap, a PodDisruptionBudget and a kustomization', () => {
    expect(ofKind('apps/v1 Deployment')).toHaveLength(1);
    expect(configMaps.map((c) => c.metadata?.name)).toContain(configMapName);
    expect(ofKind('policy/v1 PodDisruptionBudget')).toHaveLength(1);
    expect(ofKind(KUSTOMIZATION)).toHaveLength(1);
  });

  it.each(manifests.map((m) => [`${m.file}[${m.index}] ${m.kind}`, m] as const))(
    '%s is valid for its kind',
    (_name, m) => {
      if (m.kind === KUSTOMIZATION) return; // not an API object; checked below
      if (!isKnownKind(m.kind)) throw new Error(`${m.file}: a kind this test does not know`);
      const { model: Model } = KINDS[m.kind];
      expect(() => new Model(m.doc as never).validate()).not.toThrow();
    },
  );

  it('has no field its kind does not define (TypeScript excess-property check)', () => {
    expect(unknownFieldProblems(manifests.filter((m) => m.kind !== KUSTOMIZATION))).toEqual([]);
  }, 30_000);

  it('kustomization lists existing files, and not the Secret template', () => {
    const { resources } = kustomization;
    for (const r of resources) expect(existsSync(join(DIR, r)), r).toBe(true);
    const applied = manifests.filter((m) => resources.includes(m.file));
    expect(applied.map((m) => m.kind)).toEqual(
      expect.arrayContaining([
        'apps/v1 Deployment',
        'v1 ConfigMap',
        'policy/v1 PodDisruptionBudget',
      ]),
    );
    // Applying placeholders would overwrite the real Secret.
    expect(applied.filter((m) => m.kind === 'v1 Secret')).toEqual([]);
    expect(kustomization.images.map((i) => i.name)).toContain(container.image);
  });
});

describe('deploy/kubernetes: this package', () => {
  it('uses only environment variables of src/config/env.ts', () => {
    const configMapYaml = readFileSync(join(DIR, 'configmap.yaml'), 'utf8');
    const names = [
      ...(container.env ?? []).map((e) => e.name),
      ...configMaps.flatMap((c) => Object.keys(c.data ?? {})),
      ...secrets.flatMap((s) => Object.keys({ ...s.data, ...s.stringData })),
      // The commented-out examples in configmap.yaml too: uncommented, they must work.
      ...[...configMapYaml.matchAll(/^\s*#\s*([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!),
    ];
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !ENV_VARIABLES.includes(n))).toEqual([]);
  });

  it('has a ConfigMap the real parser (src/config/env.ts) accepts', () => {
    expect(parseConfigMap).not.toThrow();
  });

  it('reads every secretKeyRef from the Secret, under the variable name it sets', () => {
    const [secret] = secrets;
    const refs = (container.env ?? []).filter((e) => e.valueFrom?.secretKeyRef !== undefined);
    expect(refs.map((e) => e.name)).toEqual(
      expect.arrayContaining(['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET']),
    );
    for (const e of refs) {
      expect(e.valueFrom?.secretKeyRef).toMatchObject({
        name: secret?.metadata?.name,
        key: e.name,
      });
      expect(Object.keys(secret?.stringData ?? {})).toContain(e.name);
    }
  });

  it('runs the image as built: its command, user, records directory and ports', () => {
    expect(container.command).toBeUndefined();
    expect(container.args).toBeUndefined();
    expect(pod.securityContext?.runAsUser).toBe(Number(/^ARG UID=(\d+)$/m.exec(dockerfile)?.[1]));
    expect(config.records.dir).toBe(/^ENV CALL_RECORDS_DIR=(\S+)$/m.exec(dockerfile)?.[1]);
    const exposed = (/^EXPOSE (.+)$/m.exec(dockerfile)?.[1] ?? '').split(/\s+/).map(Number);
    expect((container.ports ?? []).map((p) => p.containerPort).sort()).toEqual(exposed.sort());
  });

  describe('readiness: GET /health of the real health server', () => {
    let server: Server;
    let phase: WorkerPhase = 'starting';
    const readiness = targetOf(container.readinessProbe);
    beforeAll(async () => {
      server = await startHealthServer({
        host: '127.0.0.1',
        port: 0,
        health: () => ({ phase, activeCalls: 0, maxCalls: 4, limitedBy: 'configured', usage: 0 }),
      });
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('probes the port the worker listens on (AGENT_HEALTH_PORT)', () => {
      expect(container.readinessProbe?.httpGet, 'readinessProbe.httpGet').toBeDefined();
      expect(readiness.port).toBe(config.worker.healthPort);
    });

    it.each<[WorkerPhase, number]>([
      ['ready', 200],
      ['starting', 503],
      ['disconnected', 503],
      ['draining', 503],
    ])('the probe path answers %s with %i', async (p, status) => {
      phase = p;
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}${readiness.path ?? ''}`);
      expect(res.status).toBe(status);
    });
  });

  it.each(['livenessProbe', 'startupProbe'] as const)(
    '%s asks the framework (200 also while draining or reconnecting), not GET /health',
    (name) => {
      const probe = container[name];
      expect(probe?.httpGet ?? probe?.tcpSocket, name).toBeDefined();
      const { port, path } = targetOf(probe);
      expect(port).not.toBe(config.worker.healthPort);
      expect(port).toBe(config.agentHttp.port);
      // The framework's GET / answers 503 while it reconnects to LiveKit; GET /worker always 200.
      if (path !== undefined) expect(path).toBe('/worker');
    },
  );

  it('gives a draining worker the drain timeout and the job processes’ shutdown', () => {
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    const defaultDrainS = parseConfig({}).worker.drainTimeoutMs / 1000;
    expect(grace).toBeGreaterThanOrEqual(defaultDrainS);
    expect(grace).toBeGreaterThanOrEqual(
      Math.ceil(config.worker.drainTimeoutMs / 1000) + FRAMEWORK_SHUTDOWN_PROCESS_TIMEOUT_S,
    );
  });

  it('rolls out without stopping a worker before its replacement is ready', () => {
    const spec = deployment.spec!;
    expect(spec.strategy?.type).toBe('RollingUpdate');
    expect(spec.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(spec.strategy?.rollingUpdate?.maxSurge).toBeGreaterThanOrEqual(1);
    expect(spec.replicas ?? 2).toBeGreaterThanOrEqual(2);
    const labels = spec.template.metadata?.labels;
    expect(spec.selector.matchLabels).toEqual(labels);
    const [pdb] = ofKind<IPodDisruptionBudget>('policy/v1 PodDisruptionBudget');
    expect(pdb?.spec?.selector?.matchLabels).toEqual(labels);
    expect(pdb?.spec?.maxUnavailable).toBe(1);
    for (const hpa of ofKind<IHorizontalPodAutoscaler>('autoscaling/v2 HorizontalPodAutoscaler')) {
      expect(hpa.spec?.scaleTargetRef).toMatchObject({
        kind: 'Deployment',
        name: deployment.metadata?.name,
      });
      expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);
    }
  });

  it('runs non-root on a read-only root filesystem, with every path it writes mounted', () => {
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const writable = (path: string) => {
      const mount = container.volumeMounts?.find((m) => m.mountPath === path);
      expect(mount, path).toBeDefined();
      expect(mount?.readOnly ?? false).toBe(false);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.emptyDir ?? volume?.persistentVolumeClaim, path).toBeDefined();
    };
    writable(config.records.dir); // records, spool
    writable('/tmp'); // os.tmpdir(): the framework's job session directory
  });

  it('reserves the measured memory for AGENT_MAX_CALLS calls, with a CPU limit', () => {
    const { requests, limits } = container.resources ?? {};
    expect(requests?.memory).toBe(limits?.memory);
    expect(mebibytes(limits?.memory)).toBeGreaterThanOrEqual(
      MEASURED_IDLE_MIB + MEASURED_PER_CALL_MIB * config.maxConcurrentCalls,
    );
    // The worker's CPU admission measures against the container's quota (cgroup cpu.max).
    expect(limits?.cpu).toBeDefined();
  });

  it('holds no secret value', () => {
    for (const name of Object.keys(configMapData))
      expect(SECRET_NAME.test(name), `${name} in the ConfigMap`).toBe(false);
    for (const e of container.env ?? []) {
      if (SECRET_NAME.test(e.name)) expect(e.valueFrom?.secretKeyRef, e.name).toBeDefined();
      expect(e.value, `${e.name}: a literal value`).toBeUndefined();
    }
    for (const s of secrets) {
      expect(s.data, `${s.metadata?.name}: base64 data`).toBeUndefined();
      for (const [key, value] of Object.entries(s.stringData ?? {}))
        expect(value, `${s.metadata?.name}.${key}`).toMatch(PLACEHOLDER);
    }
    for (const file of readdirSync(DIR)) {
      const text = readFileSync(join(DIR, file), 'utf8');
      expect(text, file).not.toContain(LOCAL_API_SECRET);
      expect(text, file).not.toMatch(/\bsk-[A-Za-z0-9_-]{16,}/); // an OpenAI key
    }
  });
});

/**
 * Type-checks each document as an object literal of its kind's interface in kubernetes-models;
 * TypeScript reports every property the interface does not have ("Object literal may only
 * specify known properties"), however deep. One in-memory file per document; nothing is written.
 */
function unknownFieldProblems(docs: readonly Manifest[]): string[] {
  const sources = new Map(
    docs.map((m) => {
      if (!isKnownKind(m.kind)) throw new Error(`${m.file}: a kind this test does not know`);
      const [module, type] = KINDS[m.kind].types;
      const fileName = join(DIR, `${m.file}.${m.index}.check.ts`);
      const text =
        `import type { ${type} } from 'kubernetes-models/${module}';\n` +
        `export const doc: ${type} = ${JSON.stringify(m.doc, null, 2)};\n`;
      return [fileName, text] as const;
    }),
  );
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const disk = ts.createCompilerHost(options);
  const host: ts.CompilerHost = {
    ...disk,
    getSourceFile: (name, language, ...rest) => {
      const text = sources.get(name);
      return text === undefined
        ? disk.getSourceFile(name, language, ...rest)
        : ts.createSourceFile(name, text, language);
    },
    fileExists: (name) => sources.has(name) || disk.fileExists(name),
    readFile: (name) => sources.get(name) ?? disk.readFile(name),
  };
  const program = ts.createProgram([...sources.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file === undefined ? '' : `${relative(DIR, d.file.fileName)}: `;
    return where + ts.flattenDiagnosticMessageText(d.messageText, ' ');
  });
}
