import type { IoTClient } from '@aws-sdk/client-iot';
import type { LifecycleIot } from '../../lifecycle/ports';
import { describeCertificate, updateCertificateStatus } from './certificates';
import { iotCalls } from './calls';
import { detachPolicy, listAttachedPolicies } from './policies';
import { addThingToThingGroup, deleteThing, detachThingPrincipal, listPrincipalThings, listThingGroupsForThing, removeThingFromThingGroup } from './things';

/** The IoT calls of the lifecycle workflows (shared/lifecycle/actions.ts), bound to `client`. */
export function lifecycleIotCalls(client: IoTClient): LifecycleIot {
  return iotCalls(client, {
    describeCertificate,
    updateCertificateStatus,
    listThingGroupsForThing,
    addThingToThingGroup,
    removeThingFromThingGroup,
    listAttachedPolicies,
    detachPolicy,
    listPrincipalThings,
    detachThingPrincipal,
    deleteThing,
  });
}
