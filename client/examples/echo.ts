/**
 * An echo agent: answers every direct message with its payload.
 *   node --import tsx client/examples/echo.ts            # the agent "echo"
 *   node --import tsx client/examples/echo.ts hi there   # "echo-caller" sends "hi there" and prints the answer
 */
import { connect } from '../src/index.js';
import { tokenFor, url } from './env.js';

const words = process.argv.slice(2);
const agentId = words.length ? 'echo-caller' : 'echo';
const agent = await connect({ url, agentId, token: await tokenFor(agentId) });

if (words.length === 0) {
  agent.on('message', async (m) => {
    console.log(`${m.from}: ${JSON.stringify(m.payload)}`);
    await agent.send(m.from, { echo: m.payload }, { replyTo: m.id });
  });
  console.log('echo is listening');
} else {
  const answered = new Promise<void>((done) =>
    agent.on('message', (m) => {
      console.log(`echo answered: ${JSON.stringify(m.payload)}`);
      done();
    }),
  );
  await agent.send('echo', { text: words.join(' ') });
  await answered;
  await agent.close();
}
