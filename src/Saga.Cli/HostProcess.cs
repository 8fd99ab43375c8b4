using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace Saga.Cli;

/// <summary>
/// One deployable host started as its own process from its build output, as it runs in production;
/// stopped by the process id it was given, never by name. Used by the CLI and by the tests' SagaSystem (tests/Saga.Testing).
/// Like a service manager, it starts again a host that exits on its own after it was ready (the
/// consumer watchdog's exit, a crash), up to <see cref="MaxRestarts"/> times.
/// </summary>
public sealed class HostProcess(string name, string project, IReadOnlyDictionary<string, string> environment, string logDirectory, int? port = null) : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly Dictionary<string, string> _environment = new(environment);
    private Process? _process;
    private StreamWriter? _log;
    private volatile bool _stopping;
    private volatile bool _disposed;

    public const int MaxRestarts = 5;

    /// <summary>Times the host exited on its own and was started again.</summary>
    public int Restarts { get; private set; }

    /// <summary>Raised after a host that exited on its own is ready again (its process id changed).</summary>
    public event Action? Restarted;

    public string Name => name;
    public string Project => project;

    /// <summary>The environment the host is started with (besides its Urls).</summary>
    public IReadOnlyDictionary<string, string> Environment => _environment;
    /// <summary>The port it listens on: the one it was given, else a free one.</summary>
    public int Port { get; } = port ?? FreePort();
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;
    public string LogFile { get; } = Path.Combine(logDirectory, $"{name}.log");
    public string BaseAddress => $"http://127.0.0.1:{Port}";

    /// <summary>Environment for the next start (e.g. switching a fault on for a restart).</summary>
    public void Set(string key, string value) => _environment[key] = value;

    /// <summary>Takes a key out of the environment for the next start (switching a fault off).</summary>
    public void Unset(string key) => _environment.Remove(key);

    public async Task Start(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = new ProcessStartInfo("dotnet", Binary(project)) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }
        info.Environment["Urls"] = BaseAddress;
        info.Environment.TryAdd("DOTNET_ENVIRONMENT", "Development");
        Directory.CreateDirectory(logDirectory);
        // One log per host across its restarts; the previous process's writer is closed first.
        if (_log is { } previous)
        {
            lock (previous)
            {
                previous.Dispose();
            }
        }
        var log = _log = new StreamWriter(LogFile, append: true) { AutoFlush = true };
        _process = Process.Start(info)!;
        // Only now: the exit of a process killed just before may be reported late, and until _process changed,
        // a supervisor that saw _stopping cleared would take it for a crash and start a second host on this port.
        _stopping = false;
        if (_disposed)
        {
            // A supervisor's restart that raced with disposal: nothing may outlive the owner.
            _process.Kill(entireProcessTree: true);
            throw new ObjectDisposedException(name);
        }
        _process.OutputDataReceived += (_, e) => Write(log, e.Data);
        _process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // until its last output lines are in the log the message points to
                throw new InvalidOperationException($"{name} exited with code {_process.ExitCode}; see {LogFile}");
            }
            try
            {
                if ((await Http.GetAsync($"{BaseAddress}/health/ready", cancellationToken)).StatusCode == HttpStatusCode.OK)
                {
                    Supervise(_process, log);
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"{name} did not become ready in 90 s; see {LogFile}");
    }

    private void Supervise(Process process, StreamWriter log)
    {
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            if (_stopping || _disposed || process != _process || Restarts >= MaxRestarts)
            {
                return;
            }
            Restarts++;
            Write(log, $"[supervisor] {name} exited on its own with code {process.ExitCode}: starting it again ({Restarts} of {MaxRestarts})");
            _ = Task.Run(async () =>
            {
                try
                {
                    await Start();
                    Restarted?.Invoke();
                }
                catch (Exception e)
                {
                    Write(log, $"[supervisor] {name} did not start again: {e.Message}");
                }
            });
        };
    }

    /// <summary>kill -9: no graceful shutdown, no chance to finish what it was doing.</summary>
    public void Kill()
    {
        _stopping = true;
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>
    /// SIGSTOP: the process stays, with its connections, its unacknowledged messages and its locks, and
    /// does nothing, as in a long pause of its machine. <see cref="Thaw"/> lets it go on.
    /// </summary>
    public void Freeze() => Signal("STOP");

    /// <summary>SIGCONT after <see cref="Freeze"/>.</summary>
    public void Thaw() => Signal("CONT");

    private void Signal(string signal)
    {
        if (Pid is { } pid)
        {
            Process.Start("kill", [$"-{signal}", pid.ToString()])?.WaitForExit();
        }
    }

    /// <summary>SIGTERM, then SIGKILL if it has not stopped in 30 s.</summary>
    public async Task Stop()
    {
        _stopping = true;
        if (_process is { HasExited: false } p)
        {
            Process.Start("kill", ["-TERM", p.Id.ToString()])?.WaitForExit();
            Thaw(); // a frozen process would keep SIGTERM pending for the whole 30 s
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await p.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Kill();
            }
        }
    }

    /// <summary>CPU seconds the process has used so far (user + system), from /proc.</summary>
    public double CpuSeconds() => Pid is { } pid ? ProcCpu.Seconds(pid) : 0;

    public async ValueTask DisposeAsync()
    {
        _disposed = true; // no supervisor restart from here on
        await Stop();
        _process?.Dispose();
        _log?.Dispose();
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                try
                {
                    log.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                    // a killed process's last lines, arriving after its restart closed this log
                }
            }
        }
    }

    private static string Binary(string project)
    {
        // <repo>/{src,tests}/<caller>/bin/<Configuration>/net10.0 → <repo>/src/<project>/bin/<Configuration>/net10.0/<project>.dll
        // The configuration the CLI was built in: its own, or the test run's that built it through tests/Saga.Testing.
        var configuration = typeof(HostProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
        var path = Path.Combine(root, "src", project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built at {path}");
    }

    /// <summary>Whether nothing listens on <paramref name="port"/> of the loopback address yet.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>CPU time of a process from /proc/{pid}/stat (Linux).</summary>
public static class ProcCpu
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    public static double Seconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / TicksPerSecond; // utime, stime
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
