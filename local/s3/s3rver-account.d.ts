// s3rver's access-key registry (no typings ship for it).
declare module 's3rver/lib/models/account' {
  class AWSAccount {
    constructor(accountId: number, displayName: string);
    static registry: Map<string, AWSAccount>;
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
  }
  export = AWSAccount;
}
