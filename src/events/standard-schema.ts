/**
 * The Standard Schema v1 interface (https://standardschema.dev), copied as its specification
 * asks rather than imported from a package. zod (3.24 and later), valibot (1.0 and later) and
 * ArkType implement it, so annals accepts schemas of any of them without depending on one.
 *
 * @typeParam Input - the type the schema accepts.
 * @typeParam Output - the type the schema produces (defaults applied, values transformed).
 *
 * @category Events
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

/**
 * The types that belong to {@link StandardSchemaV1}.
 *
 * @category Events
 */
export declare namespace StandardSchemaV1 {
  /** The Standard Schema properties. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the standard. */
    readonly version: 1;
    /** The name of the schema library, such as `zod` or `valibot`. */
    readonly vendor: string;
    /** Validates an unknown value. Returns a Promise when the schema has async parts. */
    readonly validate: (
      value: unknown,
      options?: StandardSchemaV1.Options | undefined,
    ) => Result<Output> | Promise<Result<Output>>;
    /** The schema's inferred types (present only in the type system). */
    readonly types?: Types<Input, Output> | undefined;
  }

  /** The result of `validate`. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;

  /** The result of a successful validation. */
  export interface SuccessResult<Output> {
    /** The validated (and possibly transformed) value. */
    readonly value: Output;
    /** Absent on success. */
    readonly issues?: undefined;
  }

  /** Options of `validate`. */
  export interface Options {
    /** Parameters specific to the schema library. */
    readonly libraryOptions?: Record<string, unknown> | undefined;
  }

  /** The result of a failed validation. */
  export interface FailureResult {
    /** What is wrong, at least one issue. */
    readonly issues: ReadonlyArray<Issue>;
  }

  /** One problem found by a validation. */
  export interface Issue {
    /** What is wrong. */
    readonly message: string;
    /** Where in the value, when the issue is not about the value as a whole. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }

  /** One segment of an issue's path, as an object. */
  export interface PathSegment {
    /** The key of the segment. */
    readonly key: PropertyKey;
  }

  /** The input and output types of a schema. */
  export interface Types<Input = unknown, Output = Input> {
    /** The type the schema accepts. */
    readonly input: Input;
    /** The type the schema produces. */
    readonly output: Output;
  }

  /** The type a schema accepts. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['input'];

  /** The type a schema produces. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['output'];
}
