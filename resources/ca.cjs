'use strict';
/**
 * The CA whose devices JITR admits, when the stack registers it (stage parameter caCertificateFile). Which
 * CAs' registered events reach JITR is the topic rule's SQL (functions/activate-certificate/resources.cjs).
 */

function caResources({ settings }) {
  if (!settings.caCertificatePem) return { Resources: {}, Outputs: {} };
  const mode = settings.caCertificateMode;
  if (mode !== 'SNI_ONLY' && mode !== 'DEFAULT') throw new Error(`caCertificateMode must be SNI_ONLY or DEFAULT, not "${mode}"`);
  if (mode === 'DEFAULT' && !settings.verificationCertificatePem) {
    throw new Error('caCertificateMode DEFAULT needs verificationCertificateFile (a certificate whose CN is the registration code)');
  }
  return {
    Resources: {
      CaCertificate: {
        Type: 'AWS::IoT::CACertificate',
        Properties: {
          CACertificatePem: settings.caCertificatePem,
          CertificateMode: mode,
          Status: 'ACTIVE',
          AutoRegistrationStatus: 'ENABLE',
          ...(mode === 'DEFAULT' ? { VerificationCertificatePem: settings.verificationCertificatePem } : {}),
        },
      },
    },
    Outputs: { CaCertificateId: { Value: { Ref: 'CaCertificate' } } },
  };
}

module.exports = { caResources };
