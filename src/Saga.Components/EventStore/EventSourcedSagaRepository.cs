using MassTransit;
using MassTransit.Context;
using MassTransit.Saga;
using Marten;
using Saga.Components.Transfers;
using Saga.Contracts;

namespace Saga.Components.EventStore;

/// <summary>
/// MassTransit's saga repository for transfers, on Marten: loads the view written with the latest
/// events, and after the state machine has run appends the events it recorded, with the view, in one
/// commit that fails if another consumer appended first (MassTransit then retries the message).
/// Commits and the copies of transfers in flight are <see cref="TransferCommits"/>'.
/// </summary>
public sealed class EventSourcedSagaRepository(IDocumentStore store, TransferCommits commits) :
    ISagaRepositoryContextFactory<TransferState>,
    IQuerySagaRepositoryContextFactory<TransferState>,
    ILoadSagaRepositoryContextFactory<TransferState>
{
    public Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TransferState, T>> next) where T : class =>
        next.Send(new RepositoryContext<T>(store, commits, context));

    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<TransferState> query, IPipe<SagaRepositoryQueryContext<TransferState, T>> next)
        where T : class =>
        throw new NotSupportedException("Transfers are correlated by transfer id only.");

    public async Task<T> Execute<T>(Func<QuerySagaRepositoryContext<TransferState>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
    {
        await using var session = store.QuerySession();
        return await asyncMethod(new ReadContext(session, cancellationToken)).ConfigureAwait(false);
    }

    public async Task<T> Execute<T>(Func<LoadSagaRepositoryContext<TransferState>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
    {
        await using var session = store.QuerySession();
        return await asyncMethod(new ReadContext(session, cancellationToken)).ConfigureAwait(false);
    }

    public void Probe(ProbeContext context) => context.Add("persistence", "marten-event-store");

    private sealed class RepositoryContext<TMessage>(IDocumentStore store, TransferCommits commits, ConsumeContext<TMessage> context) :
        ConsumeContextScope<TMessage>(context), SagaRepositoryContext<TransferState, TMessage>
        where TMessage : class
    {
        private readonly ConsumeContext<TMessage> _context = context;

        // A first delivery may trust what this coordinator committed last; a retry or redelivery
        // follows a conflict or a crash, and reads what is in the database.
        private bool FirstAttempt => _context.GetRetryAttempt() == 0 && !_context.ReceiveContext.Redelivered;

        // A request may be answered without anything written (a status, a rejected repair), so no
        // expected version would catch a copy another coordinator made stale. Every other message
        // records an event, whose commit fails on a stale copy. The scan's CheckBackDue
        // comes for a transfer that waited, which another coordinator has often moved on meanwhile
        // (under chaos, most of the coordinators' conflicts): it reads the database, as the scan did.
        private bool MayUseCopy => FirstAttempt && _context.RequestId is null && _context.ResponseAddress is null && _context.Message is not CheckBackDue;

        // A copy still Prepared has asked only the producer. Any other answer (a credit's, a void's) was asked
        // for by the coordinator that committed the transfer after this copy was made: with two coordinators on
        // one queue, a quarter of all credits found such a copy, and each failed its commit and was retried.
        private bool IsBehind(TransferState copy) =>
            copy.CurrentState == TransferStates.Prepared && _context.Message is not (CommitTransfer or RollbackTransfer);

        public Task<SagaConsumeContext<TransferState, TMessage>> Add(TransferState instance) =>
            Task.FromResult<SagaConsumeContext<TransferState, TMessage>>(new DefaultSagaConsumeContext<TransferState, TMessage>(_context, instance));

        // The half message starts its transfer without a read (InsertOnInitial): a transfer that exists
        // after all fails to start its stream, and the retry loads it.
        public Task<SagaConsumeContext<TransferState, TMessage>> Insert(TransferState instance) =>
            FirstAttempt && !commits.IsInFlight(instance.CorrelationId) ? Add(instance) : Task.FromResult<SagaConsumeContext<TransferState, TMessage>>(null!);

        public async Task<SagaConsumeContext<TransferState, TMessage>> Load(Guid correlationId)
        {
            var instance = MayUseCopy ? commits.InFlight(correlationId) : null;
            if (instance is null || IsBehind(instance))
            {
                await using var session = store.QuerySession();
                instance = await session.LoadAsync<TransferState>(correlationId, CancellationToken).ConfigureAwait(false);
            }
            return instance is null ? null! : new DefaultSagaConsumeContext<TransferState, TMessage>(_context, instance);
        }

        public Task Save(SagaConsumeContext<TransferState> context) => commits.Commit(context.Saga, typeof(TMessage));

        public Task Update(SagaConsumeContext<TransferState> context) => commits.Commit(context.Saga, typeof(TMessage));

        // A transfer is never deleted: its stream is its history. Finished transfers stay in their final state.
        public Task Delete(SagaConsumeContext<TransferState> context) => Update(context);

        public Task Discard(SagaConsumeContext<TransferState> context)
        {
            context.Saga.PendingEvents.Clear();
            return Task.CompletedTask;
        }

        public Task Undo(SagaConsumeContext<TransferState> context) => Discard(context);

        public Task<SagaConsumeContext<TransferState, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> consumeContext, TransferState instance, SagaConsumeContextMode mode)
            where T : class =>
            Task.FromResult<SagaConsumeContext<TransferState, T>>(new DefaultSagaConsumeContext<TransferState, T>(consumeContext, instance));
    }

    private sealed class ReadContext(IQuerySession session, CancellationToken cancellationToken) :
        MassTransit.Middleware.BasePipeContext(cancellationToken), QuerySagaRepositoryContext<TransferState>, LoadSagaRepositoryContext<TransferState>
    {
        public async Task<SagaRepositoryQueryContext<TransferState>> Query(ISagaQuery<TransferState> query, CancellationToken cancellationToken = default)
        {
            var ids = await session.Query<TransferState>().Where(query.FilterExpression).Select(x => x.CorrelationId)
                .ToListAsync(cancellationToken).ConfigureAwait(false);
            return new DefaultSagaRepositoryQueryContext<TransferState>(this, ids.ToList());
        }

        public async Task<TransferState> Load(Guid correlationId) =>
            (await session.LoadAsync<TransferState>(correlationId, CancellationToken).ConfigureAwait(false))!;
    }
}
