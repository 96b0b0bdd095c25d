import { randomUUID } from 'node:crypto';
import { IotError, invalid, notFound } from '../errors';
import { page, sameMap, type AccountScope, type Page, type Paging, type Writable } from './support';

/**
 * One account's things, thing types and thing groups, group membership, and the things' principals
 * (aws-iot-reference §4). Thing–principal attachments live here because AWS keeps them on the thing:
 * AttachThingPrincipal, ListThingPrincipals and DeleteThing are thing operations under /things/{name}/, and
 * ${iot:Connection.Thing.*} is resolved from them. The principal itself is checked through `principals`.
 */

export interface Thing {
  readonly thingName: string;
  readonly thingId: string;
  readonly thingArn: string;
  readonly thingTypeName?: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly billingGroupName?: string;
  readonly version: number;
}

export interface ThingGroup {
  readonly thingGroupName: string;
  readonly thingGroupId: string;
  readonly thingGroupArn: string;
  readonly version: number;
  readonly thingGroupProperties: Readonly<Record<string, unknown>>;
  readonly parentGroupName?: string;
  readonly creationDate: Date;
}

export interface ThingType {
  readonly thingTypeName: string;
  readonly thingTypeId: string;
  readonly thingTypeArn: string;
  readonly thingTypeProperties: Readonly<Record<string, unknown>>;
  readonly creationDate: Date;
  readonly deprecated: boolean;
  readonly deprecationDate?: Date;
}

export type PrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

export interface ThingAttachment {
  readonly thingName: string;
  readonly type: PrincipalType;
}

/** A thing's group, as ListThingGroupsForThing names it. */
export interface GroupMembership {
  readonly groupName: string;
  readonly groupArn: string | undefined;
}

/** What the things need of the certificates: the principal an ARN names (or ResourceNotFoundException). */
export interface PrincipalLookup {
  principalArn(arn: string | undefined): string;
  /** A thing group is gone: what is attached to it (policies, tags) goes too. */
  groupDeleted?(thingGroupArn: string): void;
}

/** ListThings' filters (the model's ListThingsRequest). */
export interface ThingFilter {
  thingTypeName?: string | undefined;
  attributeName?: string | undefined;
  attributeValue?: string | undefined;
  usePrefixAttributeValue?: boolean | undefined;
}

/** What RegisterThing changes on a thing that already exists (OverrideSettings MERGE or REPLACE). */
export interface ThingOverride {
  attributes?: { values: Record<string, string>; merge: boolean };
  thingTypeName?: string;
  groups?: { names: readonly string[]; replace: boolean };
}

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const GROUP_OR_TYPE_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const MAX_GROUPS_PER_THING = 10;
/** "Before you can delete a thing type, wait for five minutes after you deprecate it." (developer guide, delete-thing-types) */
const DEPRECATION_BEFORE_DELETE_MS = 5 * 60_000;
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class ThingService {
  private readonly things = new Map<string, Writable<Thing>>();
  private readonly groups = new Map<string, ThingGroup>();
  private readonly types = new Map<string, Writable<ThingType>>();
  /** thing name → group names */
  private readonly membership = new Map<string, Set<string>>();
  /** thing name → principal ARN → attachment type */
  private readonly principals = new Map<string, Map<string, PrincipalType>>();

  constructor(
    private readonly scope: AccountScope,
    private readonly lookup: PrincipalLookup,
  ) {}

  // ---- things ----

  create(
    thingName: string,
    input: {
      thingTypeName?: string | undefined;
      attributePayload?: { attributes?: Record<string, string> } | undefined;
      billingGroupName?: string | undefined;
    },
  ): Thing {
    if (!THING_NAME.test(thingName)) throw invalid(`Thing name ${thingName} must match [a-zA-Z0-9:_-]{1,128}.`);
    const attributes = input.attributePayload?.attributes ?? {};
    if (input.thingTypeName) this.usableType(input.thingTypeName);
    const maxAttributes = input.thingTypeName ? 50 : 3;
    if (Object.keys(attributes).length > maxAttributes) {
      throw invalid(`A thing ${input.thingTypeName ? 'with' : 'without'} a thing type can have at most ${maxAttributes} attributes.`);
    }
    for (const [name, value] of Object.entries(attributes)) {
      if (name.length > 128 || typeof value !== 'string' || value.length > 800) {
        throw invalid('Attribute names are at most 128 characters and values at most 800.');
      }
    }
    const existing = this.things.get(thingName);
    if (existing) {
      // Same name and same configuration succeeds; a different configuration conflicts (aws-iot-reference §4).
      const same =
        existing.thingTypeName === input.thingTypeName &&
        existing.billingGroupName === input.billingGroupName &&
        sameMap(existing.attributes, attributes);
      if (!same) {
        throw new IotError('ResourceAlreadyExistsException', `Thing ${thingName} already exists with a different configuration.`, {
          resourceId: existing.thingId,
          resourceArn: existing.thingArn,
        });
      }
      return existing;
    }
    const thing: Writable<Thing> = {
      thingName,
      thingId: randomUUID(),
      thingArn: this.scope.arn(`thing/${thingName}`),
      attributes: { ...attributes },
      version: 1,
      ...(input.thingTypeName ? { thingTypeName: input.thingTypeName } : {}),
      ...(input.billingGroupName ? { billingGroupName: input.billingGroupName } : {}),
    };
    this.things.set(thingName, thing);
    return thing;
  }

  private thingOf(thingName: string): Writable<Thing> {
    const thing = this.things.get(thingName);
    if (!thing) throw notFound(`Thing ${thingName} cannot be found.`);
    return thing;
  }

  /** The thing, or ResourceNotFoundException. */
  describe(thingName: string): Thing {
    return this.thingOf(thingName);
  }

  find(thingName: string): Thing | undefined {
    return this.things.get(thingName);
  }

  delete(thingName: string, expectedVersion?: number): void {
    const t = this.things.get(thingName);
    if (!t) return; // AWS: deleting a thing that does not exist succeeds
    if (expectedVersion !== undefined && expectedVersion !== t.version) {
      throw new IotError('VersionConflictException', `Thing ${thingName} is at version ${t.version}.`);
    }
    if (this.principals.get(thingName)?.size) {
      throw invalid(`Thing ${thingName} has principals attached; detach them before deleting it.`);
    }
    this.things.delete(thingName);
    this.membership.delete(thingName);
  }

  /**
   * UpdateThing: attributes merged (`merge`: an empty value removes the attribute) or replaced, the type
   * set or removed (not both); one new version. `expectedVersion` must match (VersionConflictException).
   */
  update(
    thingName: string,
    input: {
      thingTypeName?: string | undefined;
      removeThingType?: boolean | undefined;
      attributePayload?: { attributes?: Record<string, string>; merge?: boolean } | undefined;
      expectedVersion?: number | undefined;
    },
  ): void {
    const thing = this.thingOf(thingName);
    if (input.expectedVersion !== undefined && input.expectedVersion !== thing.version) {
      throw new IotError('VersionConflictException', `Thing ${thingName} is at version ${thing.version}.`);
    }
    if (input.removeThingType && input.thingTypeName) throw invalid('Cannot set a thing type and remove it in the same request.');
    if (input.thingTypeName && input.thingTypeName !== thing.thingTypeName) this.usableType(input.thingTypeName);
    const typeName = input.removeThingType ? undefined : (input.thingTypeName ?? thing.thingTypeName);
    let attributes = thing.attributes;
    const payload = input.attributePayload;
    if (payload?.attributes) {
      if (payload.merge) {
        const merged: Record<string, string> = { ...thing.attributes };
        for (const [name, value] of Object.entries(payload.attributes)) {
          if (value === '') delete merged[name];
          else merged[name] = value;
        }
        attributes = merged;
      } else {
        attributes = { ...payload.attributes };
      }
    }
    for (const [name, value] of Object.entries(attributes)) {
      if (name.length > 128 || typeof value !== 'string' || value.length > 800) {
        throw invalid('Attribute names are at most 128 characters and values at most 800.');
      }
    }
    const maxAttributes = typeName ? 50 : 3;
    if (Object.keys(attributes).length > maxAttributes) {
      throw invalid(`A thing ${typeName ? 'with' : 'without'} a thing type can have at most ${maxAttributes} attributes.`);
    }
    thing.attributes = attributes;
    if (typeName === undefined) delete thing.thingTypeName;
    else thing.thingTypeName = typeName;
    thing.version += 1;
  }

  /**
   * ListThings, by thing name (an assumption: AWS documents no order). An attribute filter matches the value
   * whole, or as a prefix with usePrefixAttributeValue; a thing type and an attribute together are refused,
   * as AWS refuses them ("Listing things by the combination of attribute and thing type is not supported",
   * aws/aws-sdk-js#4237).
   */
  list(paging: Paging, filter: ThingFilter = {}): Page<Thing> {
    const { thingTypeName, attributeName, attributeValue, usePrefixAttributeValue } = filter;
    if (thingTypeName && (attributeName || attributeValue)) {
      throw invalid('Listing things by the combination of attribute and thing type is not supported.');
    }
    if (attributeValue !== undefined && !attributeName) throw invalid('attributeValue requires attributeName.');
    const matches = (t: Thing) => {
      if (thingTypeName && t.thingTypeName !== thingTypeName) return false;
      if (!attributeName) return true;
      const value = t.attributes[attributeName];
      if (value === undefined) return false;
      if (attributeValue === undefined) return true;
      return usePrefixAttributeValue ? value.startsWith(attributeValue) : value === attributeValue;
    };
    const all = [...this.things.values()].filter(matches).sort((a, b) => byName(a.thingName, b.thingName));
    return page(all, paging, { name: 'ListThings', scope: JSON.stringify(filter) });
  }

  /**
   * Applies RegisterThing's OverrideSettings to an existing thing (the caller has refused FAIL): attributes
   * merged or replaced, the type replaced, groups added (after leaving all of them for REPLACE); one new version.
   */
  override(thingName: string, change: ThingOverride): void {
    const thing = this.thingOf(thingName);
    if (change.attributes) {
      thing.attributes = change.attributes.merge ? { ...thing.attributes, ...change.attributes.values } : { ...change.attributes.values };
    }
    if (change.thingTypeName !== undefined) thing.thingTypeName = change.thingTypeName;
    if (change.groups) {
      if (change.groups.replace) this.membership.set(thingName, new Set());
      for (const group of change.groups.names) this.addToGroup({ thingGroupName: group, thingName });
    }
    thing.version += 1;
  }

  // ---- thing types ----

  /**
   * CreateThingType: the same name with the same properties succeeds; with other properties it is a
   * ResourceAlreadyExistsException (the model's documentation of CreateThingType). Properties compare as maps.
   */
  createType(thingTypeName: string, input: { thingTypeProperties?: Record<string, unknown> | undefined }): ThingType {
    if (!GROUP_OR_TYPE_NAME.test(thingTypeName)) throw invalid(`Invalid thing type name ${thingTypeName}.`);
    const properties = input.thingTypeProperties ?? {};
    const existing = this.types.get(thingTypeName);
    if (existing) {
      if (!sameMap(existing.thingTypeProperties, properties)) {
        throw new IotError('ResourceAlreadyExistsException', `Thing type ${thingTypeName} already exists with different properties.`, {
          resourceId: existing.thingTypeId,
          resourceArn: existing.thingTypeArn,
        });
      }
      return existing;
    }
    const type: Writable<ThingType> = {
      thingTypeName,
      thingTypeId: randomUUID(),
      thingTypeArn: this.scope.arn(`thingtype/${thingTypeName}`),
      thingTypeProperties: properties,
      creationDate: this.scope.now(),
      deprecated: false,
    };
    this.types.set(thingTypeName, type);
    return type;
  }

  /** The thing type, or ResourceNotFoundException. */
  describeType(thingTypeName: string): ThingType {
    return this.typeOf(thingTypeName);
  }

  private typeOf(thingTypeName: string): Writable<ThingType> {
    const type = this.types.get(thingTypeName);
    if (!type) throw notFound(`The thing type ${thingTypeName} does not exist.`);
    return type;
  }

  /** A type a thing can be given: it exists and is not deprecated ("You can not associate new things with deprecated thing type"). */
  private usableType(thingTypeName: string): ThingType {
    const type = this.typeOf(thingTypeName);
    if (type.deprecated) throw invalid(`The thing type ${thingTypeName} is deprecated; new things cannot be associated with it.`);
    return type;
  }

  /** ListThingTypes, by name (an assumption), optionally one name. */
  listTypes(paging: Paging, thingTypeName?: string): Page<ThingType> {
    const all = [...this.types.values()].filter((t) => !thingTypeName || t.thingTypeName === thingTypeName).sort((a, b) => byName(a.thingTypeName, b.thingTypeName));
    return page(all, paging, { name: 'ListThingTypes', scope: thingTypeName ?? '' });
  }

  /** DeprecateThingType (undoDeprecate: undeprecate). */
  deprecateType(thingTypeName: string, undo: boolean): void {
    const type = this.typeOf(thingTypeName);
    if (undo) {
      type.deprecated = false;
      delete type.deprecationDate;
    } else if (!type.deprecated) {
      type.deprecated = true;
      type.deprecationDate = this.scope.now();
    }
  }

  /**
   * DeleteThingType: only a type deprecated at least five minutes ago (developer guide, "Delete a thing
   * type"), and not while things have it (the API reference). Both refusals are InvalidRequestException,
   * the one client error the operation documents besides ResourceNotFoundException.
   */
  deleteType(thingTypeName: string): void {
    const type = this.typeOf(thingTypeName);
    if (!type.deprecated || !type.deprecationDate) throw invalid(`The thing type ${thingTypeName} must be deprecated before it is deleted.`);
    if (this.scope.now().getTime() - type.deprecationDate.getTime() < DEPRECATION_BEFORE_DELETE_MS) {
      throw invalid(`The thing type ${thingTypeName} was deprecated less than five minutes ago; wait before deleting it.`);
    }
    const holder = [...this.things.values()].find((t) => t.thingTypeName === thingTypeName);
    if (holder) throw invalid(`The thing type ${thingTypeName} is still associated with thing ${holder.thingName}.`);
    this.types.delete(thingTypeName);
  }

  // ---- thing groups ----

  findGroup(thingGroupName: string): ThingGroup | undefined {
    return this.groups.get(thingGroupName);
  }

  findType(thingTypeName: string): ThingType | undefined {
    return this.types.get(thingTypeName);
  }

  /** The thing group, or ResourceNotFoundException. */
  describeGroup(thingGroupName: string): ThingGroup {
    const group = this.groups.get(thingGroupName);
    if (!group) throw notFound(`Thing group ${thingGroupName} cannot be found.`);
    return group;
  }

  createGroup(thingGroupName: string, input: { parentGroupName?: string | undefined; thingGroupProperties?: Record<string, unknown> | undefined }): ThingGroup {
    if (!GROUP_OR_TYPE_NAME.test(thingGroupName)) throw invalid(`Invalid thing group name ${thingGroupName}.`);
    if (input.parentGroupName) this.describeGroup(input.parentGroupName);
    const existing = this.groups.get(thingGroupName);
    if (existing) {
      if (!sameMap(existing.thingGroupProperties, input.thingGroupProperties ?? {}) || existing.parentGroupName !== input.parentGroupName) {
        throw new IotError('ResourceAlreadyExistsException', `Thing group ${thingGroupName} already exists with a different configuration.`, {
          resourceId: existing.thingGroupId,
          resourceArn: existing.thingGroupArn,
        });
      }
      return existing;
    }
    const group: ThingGroup = {
      thingGroupName,
      thingGroupId: randomUUID(),
      thingGroupArn: this.scope.arn(`thinggroup/${thingGroupName}`),
      version: 1,
      thingGroupProperties: input.thingGroupProperties ?? {},
      ...(input.parentGroupName ? { parentGroupName: input.parentGroupName } : {}),
      creationDate: this.scope.now(),
    };
    this.groups.set(thingGroupName, group);
    return group;
  }

  addToGroup(input: { thingGroupName?: string | undefined; thingGroupArn?: string | undefined; thingName?: string | undefined; thingArn?: string | undefined }): void {
    const groupName = input.thingGroupName ?? input.thingGroupArn?.split('thinggroup/')[1];
    const thingName = input.thingName ?? input.thingArn?.split(':thing/')[1];
    if (!groupName || !thingName) throw invalid('A thing group and a thing must be given.');
    this.describeGroup(groupName);
    this.thingOf(thingName);
    const groups = this.membership.get(thingName) ?? new Set<string>();
    if (!groups.has(groupName) && groups.size >= MAX_GROUPS_PER_THING) {
      throw invalid('A thing can be a member of at most 10 thing groups.');
    }
    groups.add(groupName);
    this.membership.set(thingName, groups);
  }

  /** RemoveThingFromThingGroup: the group and the thing must exist; a thing not in the group is left as it is. */
  removeFromGroup(input: { thingGroupName?: string | undefined; thingGroupArn?: string | undefined; thingName?: string | undefined; thingArn?: string | undefined }): void {
    const groupName = input.thingGroupName ?? input.thingGroupArn?.split('thinggroup/')[1];
    const thingName = input.thingName ?? input.thingArn?.split(':thing/')[1];
    if (!groupName || !thingName) throw invalid('A thing group and a thing must be given.');
    this.describeGroup(groupName);
    this.thingOf(thingName);
    this.membership.get(thingName)?.delete(groupName);
  }

  /** ListThingsInThingGroup: the group's things (with `recursive`, its child groups' too), by name. */
  thingsIn(thingGroupName: string, input: Paging & { recursive?: boolean }): Page<string> {
    this.describeGroup(thingGroupName);
    const groups = new Set([thingGroupName]);
    if (input.recursive) {
      let grew = true;
      while (grew) {
        grew = false;
        for (const group of this.groups.values()) {
          if (group.parentGroupName && groups.has(group.parentGroupName) && !groups.has(group.thingGroupName)) {
            groups.add(group.thingGroupName);
            grew = true;
          }
        }
      }
    }
    const names = [...this.membership].filter(([, member]) => [...member].some((g) => groups.has(g))).map(([thing]) => thing).sort();
    return page(names, input, { name: 'ListThingsInThingGroup', scope: `${thingGroupName}/${input.recursive === true}` });
  }

  /** The thing's groups, in the order it joined them. */
  groupsOf(thingName: string): GroupMembership[] {
    this.thingOf(thingName);
    return [...(this.membership.get(thingName) ?? [])].map((name) => ({ groupName: name, groupArn: this.groups.get(name)?.thingGroupArn }));
  }

  /** ListThingGroupsForThing, one page. */
  listGroupsOf(thingName: string, paging: Paging): Page<GroupMembership> {
    return page(this.groupsOf(thingName), paging, { name: 'ListThingGroupsForThing', scope: thingName });
  }

  /** The group's ancestors, root first, as DescribeThingGroup's rootToParentThingGroups lists them. */
  ancestorsOf(thingGroupName: string): ThingGroup[] {
    const chain: ThingGroup[] = [];
    let parent = this.groups.get(thingGroupName)?.parentGroupName;
    while (parent) {
      const group = this.groups.get(parent);
      if (!group || chain.includes(group)) break;
      chain.unshift(group);
      parent = group.parentGroupName;
    }
    return chain;
  }

  /**
   * ListThingGroups, by name (an assumption): every group, or the children of `parentGroup` (with
   * `recursive`, all its descendants); `namePrefixFilter` keeps the names that start with it.
   */
  listGroups(paging: Paging, filter: { parentGroup?: string | undefined; namePrefixFilter?: string | undefined; recursive?: boolean | undefined } = {}): Page<ThingGroup> {
    if (filter.parentGroup) this.describeGroup(filter.parentGroup);
    const inScope = (g: ThingGroup) => {
      if (!filter.parentGroup) return true;
      if (g.parentGroupName === filter.parentGroup) return true;
      return filter.recursive === true && this.ancestorsOf(g.thingGroupName).some((a) => a.thingGroupName === filter.parentGroup);
    };
    const all = [...this.groups.values()]
      .filter((g) => inScope(g) && (!filter.namePrefixFilter || g.thingGroupName.startsWith(filter.namePrefixFilter)))
      .sort((a, b) => byName(a.thingGroupName, b.thingGroupName));
    return page(all, paging, { name: 'ListThingGroups', scope: JSON.stringify(filter) });
  }

  /**
   * DeleteThingGroup: a group that does not exist is deleted already (the operation documents no
   * ResourceNotFoundException); one with child groups is refused; its things leave it.
   */
  deleteGroup(thingGroupName: string, expectedVersion?: number): void {
    const group = this.groups.get(thingGroupName);
    if (!group) return;
    if (expectedVersion !== undefined && expectedVersion !== group.version) {
      throw new IotError('VersionConflictException', `Thing group ${thingGroupName} is at version ${group.version}.`);
    }
    const child = [...this.groups.values()].find((g) => g.parentGroupName === thingGroupName);
    if (child) throw invalid(`Cannot delete thing group ${thingGroupName} while it has child groups (${child.thingGroupName}).`);
    for (const groups of this.membership.values()) groups.delete(thingGroupName);
    this.groups.delete(thingGroupName);
    this.lookup.groupDeleted?.(group.thingGroupArn);
  }

  /** UpdateThingGroupsForThing: the thing and every named group must exist; removals, then additions (at most 10 groups). */
  updateGroupsForThing(input: { thingName?: string | undefined; thingGroupsToAdd?: readonly string[] | undefined; thingGroupsToRemove?: readonly string[] | undefined }): void {
    if (!input.thingName) throw invalid('thingName must be given.');
    this.thingOf(input.thingName);
    const add = input.thingGroupsToAdd ?? [];
    const remove = input.thingGroupsToRemove ?? [];
    for (const name of [...add, ...remove]) this.describeGroup(name);
    const groups = new Set(this.membership.get(input.thingName) ?? []);
    for (const name of remove) groups.delete(name);
    for (const name of add) groups.add(name);
    if (groups.size > MAX_GROUPS_PER_THING) throw invalid('A thing can be a member of at most 10 thing groups.');
    this.membership.set(input.thingName, groups);
  }

  // ---- principals ----

  /** The things a principal is attached to, with the attachment type. */
  thingsOf(principal: string): ThingAttachment[] {
    const out: ThingAttachment[] = [];
    for (const [thingName, principals] of this.principals) {
      const type = principals.get(principal);
      if (type) out.push({ thingName, type });
    }
    return out;
  }

  attachPrincipal(thingName: string, principal: string | undefined, type: string | undefined): void {
    this.thingOf(thingName);
    const principalArn = this.lookup.principalArn(principal);
    const attachmentType: PrincipalType = type === 'EXCLUSIVE_THING' ? 'EXCLUSIVE_THING' : 'NON_EXCLUSIVE_THING';
    if (type !== undefined && type !== 'EXCLUSIVE_THING' && type !== 'NON_EXCLUSIVE_THING') {
      throw invalid(`Invalid thingPrincipalType: ${type}`);
    }
    const others = this.thingsOf(principalArn).filter((a) => a.thingName !== thingName);
    if (others.some((a) => a.type === 'EXCLUSIVE_THING')) {
      throw invalid(`Principal is exclusively attached to thing ${others[0]!.thingName}.`);
    }
    if (attachmentType === 'EXCLUSIVE_THING' && others.length > 0) {
      throw invalid(`Principal is already attached to thing ${others[0]!.thingName}; it cannot be attached exclusively.`);
    }
    const principals = this.principals.get(thingName) ?? new Map<string, PrincipalType>();
    principals.set(principalArn, attachmentType);
    this.principals.set(thingName, principals);
  }

  detachPrincipal(thingName: string, principal: string | undefined): void {
    this.thingOf(thingName);
    if (!principal) throw invalid('A principal must be given.');
    this.principals.get(thingName)?.delete(principal);
  }

  /** Detaches the principal from every thing (its certificate is gone). */
  detachEverywhere(principal: string): void {
    for (const principals of this.principals.values()) principals.delete(principal);
  }

  /** The thing's principals, in attachment order. */
  principalsOf(thingName: string): string[] {
    this.thingOf(thingName);
    return [...(this.principals.get(thingName)?.keys() ?? [])];
  }

  /** ListThingPrincipals, one page. */
  listPrincipalsOf(thingName: string, paging: Paging): Page<string> {
    return page(this.principalsOf(thingName), paging, { name: 'ListThingPrincipals', scope: thingName });
  }

  /** The things a principal is attached to; the principal must exist (ResourceNotFoundException otherwise). */
  thingsOfPrincipal(principal: string | undefined): string[] {
    return this.thingsOf(this.lookup.principalArn(principal)).map((a) => a.thingName);
  }

  /** ListPrincipalThings, one page. */
  listThingsOfPrincipal(principal: string | undefined, paging: Paging): Page<string> {
    const arn = this.lookup.principalArn(principal);
    return page(this.thingsOf(arn).map((a) => a.thingName), paging, { name: 'ListPrincipalThings', scope: arn });
  }
}
