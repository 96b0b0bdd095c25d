import { IotError, invalid, notFound } from '../errors';
import { page, type AccountScope, type Page, type Paging, type Writable } from './support';

/** One account's role aliases, which the credential provider trades certificates for (aws-iot-reference §6). */

export interface RoleAlias {
  readonly roleAlias: string;
  readonly roleAliasArn: string;
  readonly roleArn: string;
  readonly owner: string;
  readonly credentialDurationSeconds: number;
  readonly creationDate: Date;
  readonly lastModifiedDate: Date;
}

interface RoleAliasInput {
  roleArn?: string | undefined;
  credentialDurationSeconds?: number | undefined;
}

function validate(input: RoleAliasInput, required: boolean): void {
  if (required || input.roleArn !== undefined) {
    if (!input.roleArn || input.roleArn.length < 20 || input.roleArn.length > 2048 || !input.roleArn.startsWith('arn:')) {
      throw invalid('roleArn must be an IAM role ARN of 20-2048 characters.');
    }
  }
  const duration = input.credentialDurationSeconds;
  if (duration !== undefined && (!Number.isInteger(duration) || duration < 900 || duration > 43_200)) {
    throw invalid('credentialDurationSeconds must be 900-43200.');
  }
}

export class RoleAliasService {
  private readonly aliases = new Map<string, Writable<RoleAlias>>();

  constructor(private readonly scope: AccountScope) {}

  create(roleAlias: string, input: RoleAliasInput): RoleAlias {
    if (!/^[\w=,@-]{1,128}$/.test(roleAlias)) throw invalid('roleAlias must be 1-128 characters of [\\w=,@-].');
    validate(input, true);
    const roleAliasArn = this.scope.arn(`rolealias/${roleAlias}`);
    if (this.aliases.has(roleAlias)) {
      throw new IotError('ResourceAlreadyExistsException', `Role alias ${roleAlias} already exists.`, { resourceId: roleAlias, resourceArn: roleAliasArn });
    }
    const now = this.scope.now();
    const alias: Writable<RoleAlias> = {
      roleAlias,
      roleAliasArn,
      roleArn: input.roleArn!,
      owner: this.scope.accountId,
      credentialDurationSeconds: input.credentialDurationSeconds ?? 3600,
      creationDate: now,
      lastModifiedDate: now,
    };
    this.aliases.set(roleAlias, alias);
    return alias;
  }

  private aliasOf(roleAlias: string): Writable<RoleAlias> {
    const alias = this.aliases.get(roleAlias);
    if (!alias) throw notFound(`Role alias ${roleAlias} does not exist.`);
    return alias;
  }

  /** The role alias, or ResourceNotFoundException. */
  describe(roleAlias: string): RoleAlias {
    return this.aliasOf(roleAlias);
  }

  find(roleAlias: string): RoleAlias | undefined {
    return this.aliases.get(roleAlias);
  }

  /**
   * ListRoleAliases: names in ascending alphabetical order with ascendingOrder (the model's documentation),
   * descending otherwise (an assumption: AWS documents only the ascending case).
   */
  list(paging: Paging, ascending = false): Page<string> {
    const names = [...this.aliases.keys()].sort();
    return page(ascending ? names : names.reverse(), paging, { name: 'ListRoleAliases', scope: String(ascending) });
  }

  update(roleAlias: string, input: RoleAliasInput): RoleAlias {
    const alias = this.aliasOf(roleAlias);
    validate(input, false);
    if (input.roleArn) alias.roleArn = input.roleArn;
    if (input.credentialDurationSeconds !== undefined) alias.credentialDurationSeconds = input.credentialDurationSeconds;
    alias.lastModifiedDate = this.scope.now();
    return alias;
  }

  delete(roleAlias: string): void {
    this.aliasOf(roleAlias);
    this.aliases.delete(roleAlias);
  }
}
