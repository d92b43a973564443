/** The two shapes of ECS's bulk reads: list calls paginated by `nextToken`, describe calls of 100 ARNs at most. */
import { Chunk, Effect, Option, Stream } from "effect"

/** Every item of a paginated list call: `page(nextToken)` asks for one page (no token: the first). */
export const paginate = <A, E>(
  page: (
    nextToken: string | undefined
  ) => Effect.Effect<
    { readonly items: ReadonlyArray<A> | undefined; readonly nextToken?: string | undefined },
    E
  >
): Effect.Effect<Array<A>, E> =>
  Stream.paginateChunkEffect(undefined as string | undefined, (nextToken) =>
    Effect.map(
      page(nextToken),
      (answer) => [Chunk.fromIterable(answer.items ?? []), Option.fromNullable(answer.nextToken)] as const
    )
  ).pipe(
    Stream.runCollect,
    Effect.map((items) => Chunk.toArray(items))
  )

/** The most ARNs DescribeTasks and DescribeContainerInstances take in one request. */
export const describeLimit = 100

/** `describe` over `arns` in requests of at most 100, one after another; the answers' items in order. */
export const describeInChunks = <A, E>(
  arns: ReadonlyArray<string>,
  describe: (chunk: Array<string>) => Effect.Effect<ReadonlyArray<A>, E>
): Effect.Effect<Array<A>, E> =>
  Effect.map(
    Effect.forEach(Chunk.chunksOf(Chunk.fromIterable(arns), describeLimit), (chunk) =>
      describe(Chunk.toArray(chunk))
    ),
    (answers) => answers.flat()
  )
