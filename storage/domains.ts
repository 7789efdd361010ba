import { CHANNEL_DBS } from './channels.js';
import { MESSAGING_DBS } from './messaging.js';
import { REGISTRY_DBS } from './registry.js';
import { TASK_DBS } from './tasks.js';

/** Every domain's named databases: what a backup counts and a verification walks. */
export const DOMAIN_DBS: Record<string, readonly string[]> = {
  registry: REGISTRY_DBS,
  messaging: MESSAGING_DBS,
  channels: CHANNEL_DBS,
  tasks: TASK_DBS,
};
