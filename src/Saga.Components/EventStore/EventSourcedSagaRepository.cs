using MassTransit;
using MassTransit.Context;
using MassTransit.Saga;
using Marten;
using Marten.Exceptions;
using Saga.Components.Transfers;

namespace Saga.Components.EventStore;

/// <summary>
/// MassTransit's saga repository for transfers, on Marten: loads the view written with the latest
/// events, and after the state machine has run appends the events it recorded, with the view, in one
/// commit that fails if another consumer appended first (MassTransit then retries the message).
/// </summary>
public sealed class EventSourcedSagaRepository(IDocumentStore store, TransferMetrics metrics) :
    ISagaRepositoryContextFactory<TransferState>,
    IQuerySagaRepositoryContextFactory<TransferState>,
    ILoadSagaRepositoryContextFactory<TransferState>
{
    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TransferState, T>> next) where T : class
    {
        await using var session = store.LightweightSession();
        await next.Send(new RepositoryContext<T>(session, context, metrics)).ConfigureAwait(false);
    }

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

    /// <summary>Appends what the state machine recorded; nothing recorded, nothing written.</summary>
    internal static async Task Append(IDocumentSession session, TransferState state, bool isNew, Type messageType, CancellationToken cancellationToken,
        TransferMetrics? metrics = null)
    {
        if (state.PendingEvents.Count == 0)
        {
            return;
        }
        var events = state.PendingEvents.ToArray();
        var expected = state.Version + events.Length;
        if (isNew)
        {
            session.Events.StartStream<TransferState>(state.CorrelationId, events);
        }
        else
        {
            session.Events.Append(state.CorrelationId, expected, events);
        }
        state.Version = expected;
        session.Store(state);
        try
        {
            await session.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            metrics?.Committed(state, events);
        }
        catch (Exception e) when (IsConflict(e))
        {
            throw new MassTransit.ConcurrencyException(
                $"Transfer {state.CorrelationId} changed while {messageType.Name} was handled", typeof(TransferState), state.CorrelationId, e);
        }
        finally
        {
            state.PendingEvents.Clear();
        }
    }

    // A stale expected version, or a second half message starting the same stream.
    private static bool IsConflict(Exception e) =>
        e is JasperFx.ConcurrencyException or Marten.Exceptions.ExistingStreamIdCollisionException
        || (e is AggregateException a && a.InnerExceptions.All(IsConflict));

    private sealed class RepositoryContext<TMessage> : ConsumeContextScope<TMessage>, SagaRepositoryContext<TransferState, TMessage>
        where TMessage : class
    {
        private readonly IDocumentSession session;
        private readonly ConsumeContext<TMessage> context;
        private readonly TransferMetrics metrics;

        public RepositoryContext(IDocumentSession session, ConsumeContext<TMessage> context, TransferMetrics metrics)
            : base(context)
        {
            this.session = session;
            this.context = context;
            this.metrics = metrics;
        }

        public Task<SagaConsumeContext<TransferState, TMessage>> Add(TransferState instance) =>
            Task.FromResult<SagaConsumeContext<TransferState, TMessage>>(new DefaultSagaConsumeContext<TransferState, TMessage>(context, instance));

        public Task<SagaConsumeContext<TransferState, TMessage>> Insert(TransferState instance) =>
            throw new NotSupportedException("Transfers are created by their half message, never inserted ahead of it.");

        public async Task<SagaConsumeContext<TransferState, TMessage>> Load(Guid correlationId)
        {
            var instance = await session.LoadAsync<TransferState>(correlationId, CancellationToken).ConfigureAwait(false);
            return instance is null ? null! : new DefaultSagaConsumeContext<TransferState, TMessage>(context, instance);
        }

        public Task Save(SagaConsumeContext<TransferState> context) =>
            Append(session, context.Saga, isNew: true, typeof(TMessage), CancellationToken, metrics);

        public Task Update(SagaConsumeContext<TransferState> context) =>
            Append(session, context.Saga, isNew: false, typeof(TMessage), CancellationToken, metrics);

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
