import { type AgentComClient, connect } from '../../client/src/index.js';
import type { AgentSpec } from '../types.js';
import type { TaskFlow } from './tasks.js';

/**
 * A task agent on the client SDK (`--task-client sdk`), instead of the raw
 * path in tasks.ts: its worker accepts, completes with the generation and
 * reports the outcome; the cycle is measured the same way. One call is on the
 * wire at a time, so it waits for the acceptance's ack before it completes,
 * which the raw path does not.
 */
export async function sdkTaskAgent(
  url: string,
  spec: AgentSpec,
  delivery: 'live' | 'acked',
  tasks: TaskFlow,
): Promise<AgentComClient> {
  const c = await connect({
    url,
    agentId: spec.id,
    token: spec.token,
    capabilities: spec.capabilities,
    presenceEvents: false,
    delivery,
    reconnect: false,
  });
  c.worker({ accepts: (t) => tasks.isBench(t) }, (task) => {
    tasks.begin(task);
    return { status: 'success' };
  });
  c.on('taskFinished', (o) => tasks.onAck({ task_id: o.taskId, status: o.status }));
  return c;
}
