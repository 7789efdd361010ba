/**
 * A channel subscriber: follows #news and prints each post, as an async iterator.
 *   node --import tsx client/examples/subscriber.ts                 # the agent "news-reader"
 *   node --import tsx client/examples/subscriber.ts extra extra     # "news-desk" publishes a post
 */
import { connect } from '../src/index.js';
import { tokenFor, url } from './env.js';

const words = process.argv.slice(2);
const agentId = words.length ? 'news-desk' : 'news-reader';
const agent = await connect({ url, agentId, token: await tokenFor(agentId) });
await agent.createChannel('news');

if (words.length === 0) {
  await agent.subscribe('news');
  console.log('news-reader follows #news');
  for await (const post of agent.iterate('channelMessage')) {
    console.log(`#${post.channel} ${post.from}: ${JSON.stringify(post.payload)}`);
  }
} else {
  const { seq } = await agent.publish('news', { text: words.join(' ') });
  console.log(`published #news seq ${seq}`);
  await agent.close();
}
