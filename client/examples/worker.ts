/**
 * A task worker: takes tasks that need the "upper" capability and returns the description in capitals.
 *   node --import tsx client/examples/worker.ts              # the agent "upper-worker"
 *   node --import tsx client/examples/worker.ts make me loud # "upper-client" submits a task and prints its result
 */
import { connect } from '../src/index.js';
import { tokenFor, url } from './env.js';

const words = process.argv.slice(2);
const agentId = words.length ? 'upper-client' : 'upper-worker';
const agent = await connect({ url, agentId, token: await tokenFor(agentId) });

if (words.length === 0) {
  agent.worker({ capabilities: ['upper'] }, async (task, ctx) => {
    console.log(`task ${task.task_id} (generation ${ctx.generation}): ${task.description}`);
    ctx.progress(50);
    return { output: task.description.toUpperCase() };
  });
  agent.on('taskFinished', (o) => console.log(`task ${o.taskId}: ${o.status}`));
  console.log('upper-worker is waiting for tasks');
} else {
  const { task_id } = await agent.submitTask({ description: words.join(' '), needed_capabilities: ['upper'] });
  for (;;) {
    const task = await agent.getTask(task_id);
    if (task.status === 'completed' || task.status === 'dead_letter') {
      console.log(`${task.status}: ${JSON.stringify(task.result)}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await agent.close();
}
