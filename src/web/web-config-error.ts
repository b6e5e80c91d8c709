import { ConfigError, type ConfigIssue } from '../config/config-error.js';

/**
 * A web configuration file (`server.web_config_file`, `--web.config.file`) that cannot be
 * used: a ConfigError whose issue paths are fields of that file (`tls_server_config.key_file`)
 * and whose source is that file. Apart from the loader so the CLI can recognise it without
 * loading the schema.
 */
export class WebConfigError extends ConfigError {
  constructor(issues: ConfigIssue[], options: { source: string; cause?: unknown }) {
    super(issues, options);
  }
}
