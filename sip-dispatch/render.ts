import { styleText } from 'node:util';
import type { AppliedChange } from './apply.js';
import {
  describeKind,
  destructiveReason,
  type Change,
  type FieldChange,
  type Plan,
} from './plan.js';
import { formatProblem, type Problem } from './problems.js';

/**
 * What people and scripts read: text with colours on a terminal (plain in CI or with NO_COLOR),
 * or JSON. Secrets never reach either: a secret field shows only whether it is set or changes.
 */
export interface Style {
  color: boolean;
}

type Color = 'green' | 'yellow' | 'red' | 'dim' | 'bold' | 'cyan';
const paint = (s: Style, color: Color, text: string) => (s.color ? styleText(color, text) : text);

export function maskField(f: FieldChange): FieldChange {
  if (!f.secret) return f;
  const mask = (v: unknown) => (v === undefined || v === '' ? '' : '(secret)');
  return { ...f, before: mask(f.before), after: mask(f.after) };
}

export function maskChange(c: Change): Change {
  return c.action === 'delete' ? c : { ...c, fields: c.fields.map(maskField) };
}

const value = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));

function fieldLine(f: FieldChange, create: boolean): string {
  if (f.secret) {
    const was = f.before !== undefined && f.before !== '';
    const now = f.after !== '';
    const what = create || !was ? (now ? 'set' : 'unset') : now ? 'changed' : 'removed';
    return `${f.field}: (secret ${what})`;
  }
  return create
    ? `${f.field}: ${value(f.after)}`
    : `${f.field}: ${value(f.before)} → ${value(f.after)}`;
}

export function renderChange(c: Change, s: Style, prefix = ''): string[] {
  const what = `${describeKind(c.kind)} ${c.id ?? '(unmanaged)'}${c.name !== c.id ? ` "${c.name}"` : ''}`;
  switch (c.action) {
    case 'create':
      return [
        paint(s, 'green', `  + ${prefix}create ${what}`),
        ...c.fields.map((f) => `      ${fieldLine(f, true)}`),
      ];
    case 'update': {
      const retag =
        c.retag === undefined
          ? []
          : 'from' in c.retag
            ? [
                `      marker: ${JSON.stringify(c.retag.from)} → ${JSON.stringify(c.id)} (renamed entry, same object)`,
              ]
            : ['      marker: (none) → adopted by sip-dispatch'];
      return [
        paint(s, 'yellow', `  ~ ${prefix}update ${what} (${c.serverId})`),
        ...retag,
        ...c.fields.map((f) => `      ${fieldLine(f, false)}`),
      ];
    }
    case 'delete':
      return [
        paint(
          s,
          'red',
          `  - ${prefix}delete ${what} (${c.serverId})${c.before === undefined ? '' : ` (before the creates: ${c.before})`}`,
        ),
      ];
  }
}

export function renderPlan(plan: Plan, s: Style, header: string): string {
  const lines = [paint(s, 'bold', header)];
  for (const c of plan.upserts) lines.push(...renderChange(c, s));
  for (const c of plan.deletions) lines.push(...renderChange(c, s, '(prune) '));
  if (plan.unchanged.length > 0)
    lines.push(
      paint(
        s,
        'dim',
        `  = ${plan.unchanged.length} unchanged: ${plan.unchanged.map((u) => u.id).join(', ')}`,
      ),
    );
  if (plan.unmanaged.length > 0)
    lines.push(
      paint(
        s,
        'dim',
        `  · ${plan.unmanaged.length} object(s) not created by sip-dispatch, left alone: ${plan.unmanaged.map((u) => u.serverId).join(', ')}`,
      ),
    );
  for (const u of plan.undescribed)
    lines.push(
      paint(
        s,
        'cyan',
        `  note: ${describeKind(u.kind)} ${u.id} (${u.serverId}) has fields the config does not describe, kept as they are by apply: ${u.fields.join(', ')} (export writes them as serverFields)`,
      ),
    );
  for (const n of plan.notes) lines.push(paint(s, 'cyan', `  note: ${n}`));
  const destructive = destructiveReason(plan);
  if (destructive !== undefined)
    lines.push(paint(s, 'yellow', `  note: prune would need --confirm-destroy: ${destructive}`));
  const count = (a: Change['action']) => plan.upserts.filter((c) => c.action === a).length;
  lines.push(
    plan.upserts.length + plan.deletions.length === 0
      ? paint(s, 'green', 'No changes: the server matches the config.')
      : `Plan: ${count('create')} to create, ${count('update')} to update, ${plan.deletions.length} to delete with prune.`,
  );
  return lines.join('\n');
}

export function planJson(plan: Plan): object {
  return {
    changes: plan.upserts.length + plan.deletions.length > 0,
    upserts: plan.upserts.map(maskChange),
    deletions: plan.deletions,
    unchanged: plan.unchanged,
    unmanaged: plan.unmanaged,
    undescribed: plan.undescribed,
    notes: plan.notes,
    ...(destructiveReason(plan) === undefined
      ? {}
      : { pruneNeedsConfirmation: destructiveReason(plan) }),
  };
}

export function renderApplied(applied: AppliedChange[], s: Style, verb: string): string {
  if (applied.length === 0) return paint(s, 'green', `No changes: nothing to ${verb}.`);
  const lines = applied.flatMap((a) =>
    renderChange(a.change, s)
      .slice(0, 1)
      .map((l) => `${l}${a.change.action === 'create' ? ` → ${a.serverId}` : ''}`),
  );
  lines.push(paint(s, 'green', `Applied ${applied.length} change(s).`));
  return lines.join('\n');
}

export function appliedJson(applied: AppliedChange[]): object[] {
  return applied.map((a) => ({ ...maskChange(a.change), serverId: a.serverId }));
}

export function renderWarnings(warnings: readonly Problem[], s: Style): string {
  return warnings.map((w) => paint(s, 'yellow', `warning: ${formatProblem(w)}`)).join('\n');
}

export function renderProblems(problems: readonly Problem[], s: Style): string {
  return [
    ...problems.map((p) => paint(s, 'red', formatProblem(p))),
    `${problems.length} problem(s); nothing was applied.`,
  ].join('\n');
}
