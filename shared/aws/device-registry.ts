import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BoundCertificateFacts } from '../certificates/certificate-facts';
import type { DeviceAttributes, DeviceEntry } from '../registry/device-entry';
import type { ClaimResult, DeviceRegistry, DeviceRegistryAdmin, DeviceRejection, ProvisioningRecord } from '../registry/ports';
import type { LifecycleRegistry, Retirement, Suspension } from '../lifecycle/ports';
import type { RotationStateName } from '../rotation/model';
import { rollBackRotation } from './registry/rotation-commit';
import {
  allowDevice,
  beginRetirement,
  beginSuspension,
  blockDevice,
  completeResume,
  completeRetirement,
  claimDevice,
  getDevice,
  markBound,
  recordProvisioning,
  recordRejection,
  unbindDevice,
} from './registry/entries';
import type { Table } from './table';

/**
 * Every call of the device registry behind one object, for the CLI, the sandbox and tests. Lambda handlers
 * do not use it (a class brings every command into the bundle): they bind the calls they make
 * (`bindCalls(table, { get: getDevice, … })`). The calls themselves are in `./registry/entries.ts`.
 */
export class DynamoDeviceRegistry implements DeviceRegistry, DeviceRegistryAdmin, LifecycleRegistry {
  private readonly table: Table;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.table = { client, tableName };
  }

  get(deviceId: string, options: { consistent?: boolean } = {}): Promise<DeviceEntry | undefined> {
    return getDevice(this.table, deviceId, options);
  }
  claim(deviceId: string, certificateId: string, options: { previousCertificateId?: string; at: Date; certificate?: BoundCertificateFacts }): Promise<ClaimResult> {
    return claimDevice(this.table, deviceId, certificateId, options);
  }
  markBound(deviceId: string, certificateId: string, thingName: string, at: Date, certificate?: BoundCertificateFacts): Promise<void> {
    return markBound(this.table, deviceId, certificateId, thingName, at, certificate);
  }
  recordRejection(deviceId: string, rejection: DeviceRejection): Promise<void> {
    return recordRejection(this.table, deviceId, rejection);
  }
  unbind(deviceId: string, certificateId: string, at: Date): Promise<boolean> {
    return unbindDevice(this.table, deviceId, certificateId, at);
  }
  recordProvisioning(deviceId: string, record: ProvisioningRecord): Promise<void> {
    return recordProvisioning(this.table, deviceId, record);
  }
  allow(deviceId: string, options: { thingGroup?: string; thingType?: string; attributes?: DeviceAttributes; reprovision?: boolean }, at: Date): Promise<DeviceEntry> {
    return allowDevice(this.table, deviceId, options, at);
  }
  block(deviceId: string, at: Date): Promise<DeviceEntry> {
    return blockDevice(this.table, deviceId, at);
  }
  beginSuspension(deviceId: string, suspension: Suspension, seenUpdatedAt: string | undefined): Promise<'done' | 'changed'> {
    return beginSuspension(this.table, deviceId, suspension, seenUpdatedAt);
  }
  completeResume(deviceId: string, certificateId: string, previousStatus: 'allowed' | undefined, at: Date): Promise<'done' | 'changed'> {
    return completeResume(this.table, deviceId, certificateId, previousStatus, at);
  }
  beginRetirement(deviceId: string, retirement: Retirement, seenUpdatedAt: string | undefined): Promise<'done' | 'changed'> {
    return beginRetirement(this.table, deviceId, retirement, seenUpdatedAt);
  }
  completeRetirement(deviceId: string, certificateId: string | undefined, at: Date): Promise<'done' | 'changed'> {
    return completeRetirement(this.table, deviceId, certificateId, at);
  }
  rollBackRotation(deviceId: string, input: { jobId: string; expected: RotationStateName; reason: string; at: Date }): Promise<'done' | 'changed'> {
    return rollBackRotation(this.table, deviceId, input);
  }
}
