import { llm, voice } from '@livekit/agents';
import { isSwitchboardError } from '../errors/index.js';

/** What the model hears when an agent's tool throws; it speaks to the caller from there. */
export const TOOL_FAILURE_MESSAGE =
  'The tool failed. Apologise to the caller in one short sentence and offer another way to help.';

interface ErrorLog {
  error: (context: object, message: string) => void;
}

/**
 * Wraps the agent's own tools so an unexpected exception becomes a logged, recorded tool error the
 * model answers with an apology, instead of an opaque "internal error". `ToolError`s (the tool's
 * deliberate answers to the model) and stop responses pass through unchanged. The log carries the
 * tool's name and the error's class or code, never its message or arguments: both can hold what
 * the caller said.
 */
export function guardTools(
  tools: readonly llm.ToolContextEntry[],
  log: ErrorLog,
): llm.ToolContextEntry[] {
  return tools.map((tool) => {
    if (!llm.isFunctionTool(tool)) return tool;
    const execute = tool.execute;
    return {
      ...tool,
      execute: async (args, opts) => {
        try {
          return await execute(args, opts);
        } catch (err) {
          if (err instanceof llm.ToolError || err instanceof voice.StopResponse) throw err;
          log.error(
            {
              tool: tool.name,
              errorClass: err instanceof Error ? err.constructor.name : typeof err,
              ...(isSwitchboardError(err) ? { code: err.code } : {}),
            },
            'agent tool failed',
          );
          throw new llm.ToolError(TOOL_FAILURE_MESSAGE);
        }
      },
    } satisfies llm.FunctionTool;
  });
}
