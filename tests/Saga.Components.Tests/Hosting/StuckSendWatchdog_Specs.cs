using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Saga.Components.Hosting;

namespace Saga.Components.Tests.Hosting;

/// <summary>A send the broker never confirms (the RabbitMQ client's hang after a broker restart) is found, and only such a one.</summary>
public sealed class StuckSendWatchdog_Specs
{
    private readonly FakeTimeProvider _clock = new();
    private readonly StuckSendWatchdog _watchdog;

    public StuckSendWatchdog_Specs() =>
        _watchdog = new StuckSendWatchdog(Options.Create(new ConsumerWatchdogOptions { SendStuckAfter = TimeSpan.FromSeconds(30) }), _clock,
            NullLogger<StuckSendWatchdog>.Instance);

    [Fact]
    public async Task A_send_still_waiting_for_its_confirm_past_the_limit_is_stuck_and_names_its_destination()
    {
        var ledgerA = new Uri("queue:ledger-a");
        await _watchdog.Started(new object(), ledgerA);
        _clock.Advance(TimeSpan.FromSeconds(29));
        await _watchdog.Started(new object(), new Uri("queue:ledger-b"));
        Assert.Null(_watchdog.Stuck());

        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal((TimeSpan.FromSeconds(30), ledgerA), _watchdog.Stuck());
    }

    [Fact]
    public async Task Sends_that_ended_confirmed_or_faulted_are_never_stuck()
    {
        var (confirmed, faulted) = (new object(), new object());
        await _watchdog.Started(confirmed, new Uri("queue:ledger-a"));
        await _watchdog.Started(faulted, new Uri("queue:ledger-b"));
        await _watchdog.Ended(confirmed);
        await _watchdog.Ended(faulted);

        _clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Null(_watchdog.Stuck());
    }
}
