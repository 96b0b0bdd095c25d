import { diagnose, type Diagnosis } from './diagnose';
import type { DiagnosisFacts } from './facts';
import { gatherFacts, type DiagnosisPorts, type DiagnosisRequest } from './gather-facts';

/**
 * "Why can't device X connect?" as one plain function: the CLI's `devices why` calls it, and so can the
 * console's API (a handler binds the same ports to its clients): the facts, and the diagnosis of them.
 */
export async function whyCannotConnect(ports: DiagnosisPorts, request: DiagnosisRequest): Promise<{ diagnosis: Diagnosis; facts: DiagnosisFacts }> {
  const facts = await gatherFacts(ports, request);
  return { diagnosis: diagnose(facts), facts };
}
