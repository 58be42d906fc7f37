// RELOAD: re-reads the config file; a bad file is refused as a whole and the running config stays.

import type { AdminCommand } from './admin-command.js';

export const reload: AdminCommand = {
  words: ['RELOAD'],
  help: 'RELOAD — re-read the config file (all or nothing)',
  execute: async (ctx) => {
    await ctx.reload();
    return { columns: [], rows: [], tag: 'RELOAD' };
  },
};
