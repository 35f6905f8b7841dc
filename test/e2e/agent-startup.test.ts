/**
 * Starting the agent against a LiveKit that is not there, or with a key it rejects, ends at once
 * with one message naming the fix (the agents framework alone would retry for minutes).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layout } from '../support/stack-env.js';

async function startAgent(
  env: Record<string, string>,
  mode: 'dev' | 'start' = 'dev',
): Promise<{ code: number; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'agents/receptionist.ts', mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number>((resolve) => child.once('close', (c) => resolve(c ?? -1)));
  return { code, output };
}

describe('agent start-up', () => {
  it('with the stack not reachable, says so and how to start it', async () => {
    // The loopback layout's address has no server inside the stack's namespace.
    const { code, output } = await startAgent({ SWITCHBOARD_NETWORK: 'loopback' });
    expect(code).toBe(1);
    expect(output).toMatch(
      /error \[livekit_unreachable\]: Cannot reach LiveKit at ws:\/\/127\.0\.0\.1:7880/,
    );
    expect(output).toContain('npm run stack -- up');
  });

  it('with a key the server rejects, names the variables to fix and never prints the secret', async () => {
    const { code, output } = await startAgent({
      LIVEKIT_URL: `ws://${layout.serviceIp}:${layout.ports.livekitHttp}`,
      LIVEKIT_API_KEY: 'devkey',
      LIVEKIT_API_SECRET: 'wrong-secret-wrong-secret-wrong-secret',
    });
    expect(code).toBe(1);
    expect(output).toMatch(
      /error \[livekit_auth_failed\]: LiveKit at ws:\/\/10\.77\.0\.2:7880 rejected API key "devkey" \(HTTP 401\)/,
    );
    expect(output).toContain('Set LIVEKIT_API_KEY and LIVEKIT_API_SECRET');
    expect(output).not.toContain('wrong-secret');
  });

  it('with a malformed environment, lists every bad variable in one message', async () => {
    const { code, output } = await startAgent({
      LIVEKIT_URL: 'wss://example.invalid',
      AGENT_IDLE_PROCESSES: 'many',
    });
    expect(code).toBe(1);
    expect(output).toContain('error [config_invalid]');
    expect(output).toContain('AGENT_IDLE_PROCESSES');
  });

  it('in production, lists every missing and malformed variable in one message and exits at once', async () => {
    const startedAt = performance.now();
    const { code, output } = await startAgent(
      {
        LIVEKIT_URL: 'wss://project.livekit.cloud',
        AGENT_MAX_CALLS: '0',
        AGENT_DRAIN_TIMEOUT_MS: 'soon',
        AGENT_HEALTH_PORT: 'http',
      },
      'start',
    );
    expect(code).toBe(1);
    expect(performance.now() - startedAt).toBeLessThan(15_000);
    // One message: the error line appears once and names every problem.
    expect(output.match(/error \[config_invalid\]/g)).toHaveLength(1);
    for (const variable of [
      'AGENT_MAX_CALLS:',
      'AGENT_DRAIN_TIMEOUT_MS:',
      'AGENT_HEALTH_PORT:',
      'LIVEKIT_API_KEY: required when LIVEKIT_URL is set',
      'LIVEKIT_API_SECRET: required when LIVEKIT_URL is set',
    ])
      expect(output).toContain(variable);
  });

  it('with a records webhook it cannot use, says what is wrong before registering, never the secret', async () => {
    // Root may write anywhere that exists, but not below a file.
    const file = join(await mkdtemp(join(tmpdir(), 'sb-spool-')), 'a-file');
    await writeFile(file, '');
    const { code, output } = await startAgent({
      CALL_RECORDS_WEBHOOK_URL: 'https://records.example.com/in',
      CALL_RECORDS_WEBHOOK_SECRET: 'a-secret-of-more-than-thirty-two-chars',
      CALL_RECORDS_SPOOL_DIR: join(file, 'spool'),
    });
    expect(code).toBe(1);
    expect(output).toMatch(/error \[records_dir_unwritable\]: Cannot write .* \(ENOTDIR\)/);
    expect(output).toContain('CALL_RECORDS_SPOOL_DIR');
    expect(output).not.toContain('a-secret-of-more-than');
  });

  it('with a short webhook secret, names the variable and the fix', async () => {
    const { code, output } = await startAgent({
      CALL_RECORDS_WEBHOOK_URL: 'https://records.example.com/in',
      CALL_RECORDS_WEBHOOK_SECRET: 'short',
    });
    expect(code).toBe(1);
    expect(output).toMatch(
      /CALL_RECORDS_WEBHOOK_SECRET: required with CALL_RECORDS_WEBHOOK_URL, at least 32/,
    );
    expect(output.match(/error \[config_invalid\]/g)).toHaveLength(1);
  });
});
