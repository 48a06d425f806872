// spec.authority (who the Territory is for) and spec.controller (the GDPR record of processing).

import * as z from 'zod';
import {
  AUTHORITY_CODE_HINTS,
  AUTHORITY_CODE_PATTERNS,
  AUTHORITY_KINDS,
  type CelRule,
  email,
  label,
  PURPOSE_NAME,
} from './patterns.ts';

const authorityCodeRules: CelRule[] = AUTHORITY_KINDS.map((kind) => ({
  rule: `self.kind != '${kind}' || self.code.matches('${AUTHORITY_CODE_PATTERNS[kind].source}')`,
  message: `spec.authority.code must be ${AUTHORITY_CODE_HINTS[kind]} when spec.authority.kind is ${kind}`,
  fieldPath: '.code',
  reason: 'FieldValueInvalid' as const,
}));

export const AuthoritySchema = z
  .strictObject({
    kind: z.enum(AUTHORITY_KINDS).meta({
      description:
        'Kind of local authority (collectivité): commune, epci (intercommunalité: CC, CA, CU, métropole), ' +
        'departement, region, or syndicat for any other public body (syndicat mixte, SIVU, SIVOM...). ' +
        'Immutable.',
      'x-kubernetes-validations': [
        {
          rule: 'self == oldSelf',
          message: 'spec.authority.kind is immutable: create a new Territory instead',
        },
      ],
    }),
    code: z
      .string()
      .min(2)
      .max(9)
      .regex(/^[0-9][0-9AB][0-9]{0,7}$/, { message: 'must be an INSEE code or a 9-digit SIREN' })
      .meta({
        description:
          'Official identifier of the authority: the INSEE code (code INSEE) for a commune (e.g. 35238), ' +
          'a département (e.g. 35, 2A, 974) or a région (e.g. 53); the 9-digit SIREN for an epci or a ' +
          'syndicat (e.g. 243500139). Checked against the official geography (découpage administratif). ' +
          'Immutable.',
        'x-kubernetes-validations': [
          {
            rule: 'self == oldSelf',
            message: 'spec.authority.code is immutable: create a new Territory instead',
          },
        ],
      }),
    displayName: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .meta({
        description:
          'Name to show for the authority. Optional except for a syndicat: the official name (from the ' +
          'INSEE/BANATIC data) is used when it is absent.',
      }),
  })
  .superRefine((authority, ctx) => {
    if (!AUTHORITY_CODE_PATTERNS[authority.kind].test(authority.code)) {
      ctx.addIssue({
        code: 'custom',
        path: ['code'],
        message: `must be ${AUTHORITY_CODE_HINTS[authority.kind]} when spec.authority.kind is ${authority.kind}`,
      });
    }
    if (authority.kind === 'syndicat' && authority.displayName === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['displayName'],
        message:
          'is required when spec.authority.kind is syndicat (there is no official list to take it from)',
      });
    }
  })
  .meta({
    description:
      'The local authority (collectivité territoriale or groupement) this Territory serves. It is the ' +
      'data controller (responsable de traitement, GDPR art. 4.7); the platform is only its processor.',
    'x-kubernetes-validations': [
      ...authorityCodeRules,
      {
        rule: "self.kind != 'syndicat' || has(self.displayName)",
        message: 'spec.authority.displayName is required when spec.authority.kind is syndicat',
        fieldPath: '.displayName',
        reason: 'FieldValueRequired',
      },
    ] satisfies CelRule[],
  });

// spec.controller: the GDPR art. 30 record of processing (registre des traitements), controller side.

export const LEGAL_BASES = [
  'public-task',
  'legal-obligation',
  'consent',
  'contract',
  'vital-interests',
  'legitimate-interests',
] as const;

export const PurposeSchema = z
  .strictObject({
    name: z
      .string()
      .max(31)
      .regex(PURPOSE_NAME, {
        message:
          'must start with a lowercase letter, then lowercase letters, digits or -, end with a letter or digit, at most 31 characters',
      })
      .meta({
        description:
          'Short name of the processing purpose (finalité), e.g. mobility or waste-collection. Lowercase ' +
          'letters, digits and - (not at either end), at most 31 characters; each purpose gets its own PostgreSQL role.',
      }),
    description: z.string().max(1000).optional().meta({
      description: 'What the processing is for, in plain words, as written in the registre des traitements.',
    }),
    legalBasis: z
      .enum(LEGAL_BASES)
      .default('public-task')
      .meta({
        description:
          'Legal basis (base légale, GDPR art. 6.1): public-task (mission de service public, the usual one ' +
          'for an authority), legal-obligation, consent, contract, vital-interests or legitimate-interests.',
      }),
    dataCategories: z.array(label(200)).min(1).max(50).meta({
      description: 'Categories of personal data processed (catégories de données), e.g. identity, address.',
    }),
    dataSubjects: z
      .array(label(200))
      .min(1)
      .max(50)
      .meta({ description: 'Categories of data subjects (personnes concernées), e.g. residents, agents.' }),
    retentionDays: z
      .int()
      .min(1)
      .max(36500)
      .meta({ description: 'How long the data is kept, in days (durée de conservation), 1 to 36500.' }),
  })
  .meta({ description: 'One processing purpose (finalité) of the record of processing.' });

export const ControllerSchema = z
  .strictObject({
    contactEmail: email().meta({
      description:
        "Contact email of the data controller (responsable de traitement), e.g. the authority's DPO office.",
    }),
    dpo: z
      .strictObject({
        name: z.string().min(1).max(200).optional().meta({
          description: 'Name of the data protection officer (délégué à la protection des données, DPO).',
        }),
        email: email().meta({ description: 'Email of the data protection officer (DPO).' }),
      })
      .meta({
        description:
          'Data protection officer (délégué à la protection des données, DPO). Public authorities must ' +
          'appoint one (GDPR art. 37.1.a).',
      }),
    purposes: z
      .array(PurposeSchema)
      .min(1)
      .max(50)
      .superRefine((purposes, ctx) => {
        const seen = new Set<string>();
        purposes.forEach((purpose, index) => {
          if (seen.has(purpose.name)) {
            ctx.addIssue({
              code: 'custom',
              path: [index, 'name'],
              message: `duplicate purpose name ${purpose.name}: purpose names must be unique`,
            });
          }
          seen.add(purpose.name);
        });
      })
      .meta({
        description:
          'Processing purposes (finalités, GDPR art. 30.1.b), at least one. Names must be unique; each ' +
          'purpose gets its own PostgreSQL role so access can be granted and audited per purpose.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-validations': [
          {
            rule: 'self.all(p, self.exists_one(q, q.name == p.name))',
            message: 'spec.controller.purposes names must be unique',
            reason: 'FieldValueDuplicate',
          },
        ] satisfies CelRule[],
      }),
    recipients: z
      .array(label(200))
      .max(50)
      .optional()
      .meta({
        description:
          'Categories of recipients (destinataires, GDPR art. 30.1.d), e.g. internal services, a named ' +
          'subcontractor (sous-traitant).',
      }),
  })
  .meta({
    description:
      'Record of processing (registre des traitements, GDPR art. 30), controller side: who is responsible, ' +
      'who the DPO is, and what the data is for.',
  });
