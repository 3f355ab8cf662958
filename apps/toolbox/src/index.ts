// @zotune/app-toolbox: the data, model, bench and report commands.
export { registerToolboxCommands } from './commands';
