import { IotError, invalid, notFound } from '../errors';
import { page, type Page, type Paging } from './support';

/**
 * One account's resource tags: TagResource, UntagResource, ListTagsForResource, and the `tags` the create
 * calls take (CreateThingGroup, CreateThingType, CreatePolicy, CreateRoleAlias, CreateProvisioningTemplate,
 * RegisterCACertificate — the create inputs of the `iot` model that have a `tags` member). Tags are the
 * model's `Tag` shape: `{ Key, Value }`, a key of 1–128 characters, a value of at most 256.
 */

export interface Tag {
  readonly Key: string;
  readonly Value?: string;
}

/**
 * The resource types of this emulator that AWS IoT lets be tagged (their create calls take tags; topic
 * rules are tagged through CreateTopicRule's tags on AWS and TagResource here). Things and certificates are
 * not taggable: their create calls take no tags.
 */
const TAGGABLE = ['thinggroup', 'thingtype', 'policy', 'rolealias', 'provisioningtemplate', 'cacert', 'rule', 'job', 'jobtemplate'] as const;
export type TaggableType = (typeof TAGGABLE)[number];

/** AWS's per-resource limit of user tags (AWS General Reference, "Tagging your AWS resources"). */
const MAX_TAGS = 50;
const TAG_KEY = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;

/** Resolves an ARN of this account to a resource that exists, or says which type it names. */
export interface TagTargets {
  /** True when the resource the ARN names exists in this account. */
  exists(type: TaggableType, resourceId: string): boolean;
  arnPrefix: string;
}

export class TagService {
  private readonly tags = new Map<string, Map<string, string>>();

  constructor(private readonly targets: TagTargets) {}

  /** The resource an ARN names: InvalidRequestException if it is no taggable IoT resource, ResourceNotFoundException if absent. */
  private resolve(resourceArn: string | undefined): string {
    if (!resourceArn) throw invalid('resourceArn must be given.');
    const match = /^arn:aws:iot:[^:]+:\d{12}:([a-z]+)\/(.+)$/.exec(resourceArn);
    if (!match || !(TAGGABLE as readonly string[]).includes(match[1]!)) throw invalid(`${resourceArn} is not a taggable AWS IoT resource ARN.`);
    if (!resourceArn.startsWith(this.targets.arnPrefix) || !this.targets.exists(match[1] as TaggableType, match[2]!)) {
      throw notFound(`The resource ${resourceArn} does not exist.`);
    }
    return resourceArn;
  }

  private static check(tags: unknown): Tag[] {
    if (!Array.isArray(tags)) throw invalid('tags must be a list of { Key, Value }.');
    for (const tag of tags as Array<Record<string, unknown>>) {
      if (!tag || typeof tag.Key !== 'string' || tag.Key.length < 1 || tag.Key.length > 128 || !TAG_KEY.test(tag.Key)) {
        throw invalid('A tag key must be 1-128 characters of letters, digits, spaces and _.:/=+-@.');
      }
      if (tag.Value !== undefined && (typeof tag.Value !== 'string' || tag.Value.length > 256)) throw invalid('A tag value must be a string of at most 256 characters.');
      if (tag.Key.startsWith('aws:')) throw invalid('Tag keys starting with aws: are reserved.');
    }
    return tags as Tag[];
  }

  private apply(resourceArn: string, tags: Tag[]): void {
    const current = new Map(this.tags.get(resourceArn) ?? []);
    for (const tag of tags) current.set(tag.Key, tag.Value ?? '');
    if (current.size > MAX_TAGS) throw new IotError('LimitExceededException', `A resource can have at most ${MAX_TAGS} tags.`);
    this.tags.set(resourceArn, current);
  }

  /** Checks the tags a create call was given, before the resource is created (bad tags create nothing). */
  static validate(tags: unknown): Tag[] | undefined {
    return tags === undefined ? undefined : TagService.check(tags);
  }

  /** Stores the tags given to a create call, on the resource it just created. */
  tagCreated(resourceArn: string, tags: Tag[] | undefined): void {
    if (tags?.length) this.apply(resourceArn, tags);
  }

  /** TagResource: adds or replaces the given keys. */
  tag(resourceArn: string | undefined, tags: unknown): void {
    const arn = this.resolve(resourceArn);
    this.apply(arn, TagService.check(tags));
  }

  /** UntagResource: removes the given keys (absent keys are fine). */
  untag(resourceArn: string | undefined, tagKeys: unknown): void {
    const arn = this.resolve(resourceArn);
    if (!Array.isArray(tagKeys) || tagKeys.some((k) => typeof k !== 'string')) throw invalid('tagKeys must be a list of strings.');
    const current = this.tags.get(arn);
    for (const key of tagKeys as string[]) current?.delete(key);
  }

  /** ListTagsForResource: the model gives it a token and no page size; a resource has at most 50 tags. */
  list(resourceArn: string | undefined, paging: Paging): Page<Tag> {
    const arn = this.resolve(resourceArn);
    const tags = [...(this.tags.get(arn) ?? [])].map(([Key, Value]) => ({ Key, Value }));
    return page(tags, paging, { name: 'ListTagsForResource', scope: arn, defaultSize: MAX_TAGS });
  }

  /** The resource is gone: so are its tags (a new resource of the same name starts untagged). */
  forget(resourceArn: string): void {
    this.tags.delete(resourceArn);
  }
}
