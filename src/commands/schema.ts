import { BaseCommand } from '../cli/base-command.js';
import { topologyJsonSchema } from '../topology/schema.js';

export default class Schema extends BaseCommand {
  static override summary = 'Print the JSON Schema of topology files (for editor autocompletion).';
  static override description =
    'The same schema ships as schema/topology.schema.json. With the YAML language server, put\n' +
    '  # yaml-language-server: $schema=./node_modules/vfab/schema/topology.schema.json\nat the top of a topology file.';
  static override examples = ['<%= config.bin %> schema > topology.schema.json'];

  async run(): Promise<void> {
    await this.parse(Schema);
    this.printJson(topologyJsonSchema());
  }
}
