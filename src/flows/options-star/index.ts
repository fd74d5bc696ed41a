export {
  DEFAULT_OPTIONS_STAR_NAMES,
  makeOptionsStarNames,
  SERVER_CAPABILITY,
  type OptionsStarNames,
} from './names.js';
export {
  OptionsStarHandler,
  installOptionsStar,
  isOptionsStar,
  DEFAULT_MAX_REQUEST_SIZE,
  type OptionsStarServerOptions,
  type OptionsStarAnswer,
  type OptionsStarHandlerEvents,
} from './server.js';
export {
  proveOrigin,
  discoverOptionsStar,
  proveOriginOverHttp1,
  discoverOptionsStarOverHttp1,
  proveOriginOverH3,
  discoverOptionsStarOverH3,
  certificatesProvenOn,
  type ProveOriginOptions,
  type Http1ProveOptions,
  type ProveOriginResult,
  type OptionsStarCapability,
} from './client.js';
export { OptionsStarPool, optionsStarProver, type OptionsStarAttempt, type OptionsStarPoolEvents, type ServesHint } from './pool.js';
