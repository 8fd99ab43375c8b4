using System.Collections.Concurrent;
using Marten;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Saga.Components.CheckBacks;
using Saga.Components.Security;
using Saga.Components.Tests.Infrastructure;
using Saga.Components.Transfers;
using Saga.Contracts;
using Saga.Testing;

namespace Saga.Components.Tests.Transfers;

/// <summary>
/// One scenario: the transfer saga in MassTransit's test harness, kept by the real event-sourced
/// repository in a PostgreSQL schema, with a clock the test moves and a check-back scan it runs.
/// </summary>
public sealed class TransferScenario : IAsyncDisposable
{
    public static readonly AccountRef Alice = new("A", "alice");
    public static readonly AccountRef Bob = new("B", "bob");

    /// <summary>Who asks for the scenario's transfers: the owner of <see cref="Alice"/>.</summary>
    public const string Initiator = "alice";

    /// <summary>How long the scenario waits for the saga to do something, as long as the harness's test timeout.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly ServiceProvider _provider;
    private readonly SentMessages _sent = new();

    private TransferScenario(ServiceProvider provider, FakeTimeProvider clock, IDocumentStore store)
    {
        _provider = provider;
        Clock = clock;
        Store = store;
        Harness = provider.GetRequiredService<ITestHarness>();
        Saga = Harness.GetSagaStateMachineHarness<TransferStateMachine, TransferState>();
        Harness.Bus.ConnectSendObserver(_sent);
        Options = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<TransferSagaOptions>>().Value;
    }

    public FakeTimeProvider Clock { get; }
    public IDocumentStore Store { get; }
    public ITestHarness Harness { get; }
    public ISagaStateMachineTestHarness<TransferStateMachine, TransferState> Saga { get; }
    public TransferSagaOptions Options { get; }
    public TransferStateMachine Machine => Saga.StateMachine;
    public IServiceProvider Services => _provider;

    public static async Task<TransferScenario> Start(PostgresSchema schema, int scanBatchSize = 500, Action<TransferSagaOptions>? configure = null)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero));
        var provider = new ServiceCollection()
            .AddSingleton<TimeProvider>(clock)
            .AddSingleton<IDocumentStore>(schema.Store)
            .Configure<TransferSagaOptions>(o => configure?.Invoke(o))
            .Configure<CheckBackScanOptions>(o => o.BatchSize = scanBatchSize)
            .AddSingleton<CheckBackScan>()
            .AddMassTransitTestHarness(x =>
            {
                x.SetTestTimeouts(testTimeout: Patience, testInactivityTimeout: TimeSpan.FromSeconds(5));
                x.AddSagaStateMachine<TransferStateMachine, TransferState, TransferStateDefinition>().EventSourcedRepository();
                x.AddConsumer<FailingLedger>().Endpoint(e => e.Name = "failing-ledger");
                x.AddConfigureEndpointsCallback((_, _, e) => e.UseFilter(new SignedInHeader()));
            })
            .BuildServiceProvider(true);
        var scenario = new TransferScenario(provider, clock, schema.Store);
        await scenario.Harness.Start();
        return scenario;
    }

    public Task Send<T>(T message) where T : class => Harness.Bus.Publish(message);

    /// <summary>
    /// Sends as the broker user <paramref name="user"/> (null: unsigned) would over RabbitMQ, where the broker
    /// vouches for it; the in-memory harness vouches for no one, so the scenario carries it in a header.
    /// </summary>
    public Task SendAs<T>(string? user, T message) where T : class =>
        Harness.Bus.Publish(message, c => c.Headers.Set(SignedInHeader.Header, user ?? ""));

    /// <summary>Stands for the broker's <c>user_id</c> check: the header a scenario signs with becomes the message's <see cref="SentBy"/>.</summary>
    private sealed class SignedInHeader : IFilter<ConsumeContext>
    {
        public const string Header = "test-sent-by";

        public Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
        {
            if (context.Headers.Get<string>(Header) is { } user)
            {
                context.ReceiveContext.GetOrAddPayload(() => new SentBy(user.Length == 0 ? null : user));
            }
            return next.Send(context);
        }

        public void Probe(ProbeContext context) => context.CreateFilterScope("signedInHeader");
    }

    public async Task<Guid> Prepare(decimal amount = 100m)
    {
        var id = NewId.NextGuid();
        await Send(new StoreHalfMessage(id, Alice, Bob, amount, "EUR", Initiator));
        await UntilLocalTransactionsAsked(id, 1);
        return id;
    }

    public async Task<Guid> Committed()
    {
        var id = await Prepare();
        await Send(new CommitTransfer(id));
        await InState(id, Machine.Committed);
        return id;
    }

    public async Task<Guid> NeedingAttentionAfterCreditFault()
    {
        var id = await Committed();
        await FailCredit(id, CreditPurpose.Transfer);
        await InState(id, Machine.NeedsAttention);
        return id;
    }

    /// <summary>A credit that fails for good: the ledger's consumer throws, and MassTransit publishes the fault.</summary>
    public async Task FailCredit(Guid id, CreditPurpose purpose)
    {
        var account = purpose == CreditPurpose.Refund ? Alice : Bob;
        await Harness.Bus.Publish(new CreditAccount(id, account, 100m, "EUR", purpose), c => c.Headers.Set(FailingLedger.Header, "true"));
    }

    /// <summary>Stands for a ledger whose credit consumer gives up: it throws what a ledger would for an unknown account.</summary>
    public sealed class FailingLedger : IConsumer<CreditAccount>
    {
        public const string Header = "test-fail-credit";

        public Task Consume(ConsumeContext<CreditAccount> context) =>
            context.Headers.TryGetHeader(Header, out _)
                ? throw new InvalidOperationException($"no account {context.Message.Account}")
                : Task.CompletedTask;
    }

    /// <summary>Waits until the saga, read back from PostgreSQL, is in <paramref name="state"/>.</summary>
    public async Task InState(Guid id, State state)
    {
        var found = await Saga.Exists(id, _ => state);
        Assert.True(found.HasValue, $"transfer {id} did not reach {state.Name}; it is {(await Load(id))?.CurrentState ?? "missing"}");
    }

    /// <summary>Waits until the transfer's stream, read back from PostgreSQL, satisfies <paramref name="condition"/>.</summary>
    public Task Until(Guid id, Func<IReadOnlyList<object>, bool> condition, string what) =>
        Eventually.Until(() => Stream(id), condition, $"transfer {id}: {what}", Patience,
            events => "stream " + string.Join(", ", events.Select(e => e.GetType().Name)));

    public Task UntilAnswered(Guid id, int attempt) =>
        Until(id, events => events.OfType<CheckBackAnswered>().Any(e => e.Attempt == attempt), $"check-back {attempt} answered");

    /// <summary>Waits for the check the saga sent to the producer (sent after its events were committed).</summary>
    public async Task<CheckLocalTransaction> CheckSent(Guid id, int attempt)
    {
        var checks = await Eventually.Until(() => Task.FromResult(ChecksSent(id)), sent => sent.Any(c => c.Attempt == attempt),
            $"check-back {attempt} of {id} was sent", Patience, sent => "check-backs sent " + string.Join(", ", sent.Select(c => c.Attempt)));
        return checks.Single(c => c.Attempt == attempt);
    }

    public IReadOnlyList<object> AllSent => _sent.ToList();

    /// <summary>Waits until <paramref name="count"/> credits for the transfer were sent (sends follow the commit), then returns them all.</summary>
    public Task<IReadOnlyList<CreditAccount>> UntilCreditsSent(Guid id, int count) =>
        Eventually.Until(() => Task.FromResult(CreditsSent(id)), sent => sent.Count >= count, $"{count} credits for {id} were sent", Patience);

    /// <summary>Waits until <paramref name="count"/> voids for the transfer were sent, then returns them all.</summary>
    public Task<IReadOnlyList<VoidCredit>> UntilVoidsSent(Guid id, int count) =>
        Eventually.Until(() => Task.FromResult(VoidsSent(id)), sent => sent.Count >= count, $"{count} voids for {id} were sent", Patience);

    public IReadOnlyList<VoidCredit> VoidsSent(Guid id) => _sent.OfType<VoidCredit>().Where(m => m.TransferId == id).ToList();

    /// <summary>An operator's repair, which the test expects to be accepted.</summary>
    public async Task<RepairAccepted> Repair<T>(T repair) where T : class
    {
        var answer = await Harness.GetRequestClient<T>().GetResponse<RepairAccepted, RepairRejected>(repair);
        Assert.True(answer.Is(out Response<RepairAccepted>? accepted), answer.Is(out Response<RepairRejected>? rejected) ? rejected.Message.Reason : "not accepted");
        return accepted.Message;
    }

    /// <summary>An operator's repair, which the test expects to be rejected.</summary>
    public async Task<RepairRejected> Rejected<T>(T repair) where T : class
    {
        var answer = await Harness.GetRequestClient<T>().GetResponse<RepairAccepted, RepairRejected>(repair);
        Assert.True(answer.Is(out Response<RepairRejected>? rejected), "accepted");
        return rejected.Message;
    }

    public IReadOnlyList<CreditAccount> CreditsSent(Guid id) => _sent.OfType<CreditAccount>().Where(m => m.TransferId == id).ToList();

    /// <summary>Waits until the producer was asked <paramref name="count"/> times to run its local transaction (the half message's acknowledgement).</summary>
    public Task<IReadOnlyList<ExecuteLocalTransaction>> UntilLocalTransactionsAsked(Guid id, int count) =>
        Eventually.Until(() => Task.FromResult(LocalTransactionsAsked(id)), sent => sent.Count >= count, $"{count} local transactions for {id} were asked", Patience);

    public IReadOnlyList<ExecuteLocalTransaction> LocalTransactionsAsked(Guid id) => _sent.OfType<ExecuteLocalTransaction>().Where(m => m.TransferId == id).ToList();

    public IReadOnlyList<CheckLocalTransaction> ChecksSent(Guid id) => _sent.OfType<CheckLocalTransaction>().Where(m => m.TransferId == id).ToList();

    /// <summary>Every message sent so far, read without waiting (the harness's lists wait for inactivity).</summary>
    private sealed class SentMessages : ConcurrentQueue<object>, ISendObserver
    {
        public Task PreSend<T>(SendContext<T> context) where T : class => Task.CompletedTask;

        public Task PostSend<T>(SendContext<T> context) where T : class
        {
            Enqueue(context.Message);
            return Task.CompletedTask;
        }

        public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    public async Task<TransferState?> Load(Guid id)
    {
        await using var session = Store.QuerySession();
        return await session.LoadAsync<TransferState>(id);
    }

    /// <summary>The transfer's stream, as stored.</summary>
    public async Task<IReadOnlyList<object>> Stream(Guid id)
    {
        await using var session = Store.QuerySession();
        return (await session.Events.FetchStreamAsync(id)).Select(e => e.Data).ToList();
    }

    public async Task<IReadOnlyList<string>> StreamTypes(Guid id) => (await Stream(id)).Select(e => e.GetType().Name).ToList();

    /// <summary>Moves the clock past the next due check-back and runs one scan.</summary>
    public async Task<int> CheckBackDueScan(TimeSpan advance)
    {
        Clock.Advance(advance);
        return await _provider.GetRequiredService<CheckBackScan>().RunOnce();
    }

    public async ValueTask DisposeAsync()
    {
        await Harness.Stop();
        await _provider.DisposeAsync();
    }
}
