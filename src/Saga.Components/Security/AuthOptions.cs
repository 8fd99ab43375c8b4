using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Saga.Components.Security;

/// <summary>Configuration section "Auth": who issues the Api's bearer tokens.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Bytes a signing key needs at least: HS256's own output size.</summary>
    public const int MinKeyBytes = 32;

    /// <summary>An OIDC authority (its discovery document gives issuer and keys); when set, only its keys sign tokens.</summary>
    public string? Authority { get; set; }

    public string Issuer { get; set; } = "saga-dev";
    public string Audience { get; set; } = "saga-api";

    /// <summary>An HS256 key shared with the issuer, when there is no authority.</summary>
    public string? SigningKey { get; set; }

    /// <summary>The longest a token may live, from its iat (or nbf) to its exp; longer ones are refused.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromHours(1);

    public SymmetricSecurityKey? Key => SigningKey is { Length: > 0 } k ? new SymmetricSecurityKey(Encoding.UTF8.GetBytes(k)) : null;
}

/// <summary>The Api's roles, as the "role" claim of a token.</summary>
public static class Roles
{
    /// <summary>Submit transfers and read transfers and accounts.</summary>
    public const string Transfers = "transfers";

    /// <summary>Open accounts and repair transfers.</summary>
    public const string Operator = "operator";
}

/// <summary>
/// The key of development tokens: random, made once per checkout in .run/development-signing-key (git-ignored),
/// never in the source or in a published build. Every development key starts with <see cref="Prefix"/>, so a host
/// outside Development recognises one (and the key the source once carried) and refuses it.
/// </summary>
public static class DevelopmentKey
{
    public const string Prefix = "saga-development-";

    public static bool IsDevelopmentKey(string key) => key.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The checkout's development key, made on first use; fails outside a checkout (a published build has none).</summary>
    public static string Load()
    {
        var root = Checkout() ?? throw new InvalidOperationException(
            "There is no development key outside a checkout of the repository: configure Auth:SigningKey or Auth:Authority.");
        return Load(Path.Combine(root, ".run"));
    }

    /// <summary>The key in <paramref name="run"/>, made there if there is none yet; callers racing to make it all get the one that stays.</summary>
    internal static string Load(string run)
    {
        var path = Path.Combine(run, "development-signing-key");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(run);
            // Written aside, then put in place only where nothing is: File.Move without overwrite checks and then
            // renames, so a second caller could replace a key the first had already handed to an Api (every token
            // that Api then saw was refused, as a whole test class once was on a fresh clone).
            var made = Path.Combine(run, $"development-signing-key.{Guid.NewGuid():N}");
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // the key is a secret of its user
            }
            using (var file = new FileStream(made, options))
            {
                file.Write(Encoding.UTF8.GetBytes(Prefix + Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(64))));
            }
            try
            {
                if (OperatingSystem.IsWindows())
                {
                    File.Move(made, path, overwrite: false); // MoveFileEx without replacing: refuses atomically
                }
                else
                {
                    File.CreateSymbolicLink(path, Path.GetFileName(made)); // symlink(2) refuses atomically where a name exists
                }
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(made);
            }
        }
        return File.ReadAllText(path).Trim();
    }

    // The directory with Saga.sln above the running binary: the CLI's, a host's or a test's, all built in the checkout.
    private static string? Checkout()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Saga.sln")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}

/// <summary>Tokens for local use, signed with the checkout's <see cref="DevelopmentKey"/> and nothing else.</summary>
public static class DevelopmentTokens
{
    /// <summary>As long as a token may live by default (<see cref="AuthOptions.MaxLifetime"/>).</summary>
    public static readonly TimeSpan Lifetime = new AuthOptions().MaxLifetime;

    public static string Create(string subject, IEnumerable<string> roles, TimeSpan lifetime)
    {
        var options = new AuthOptions { SigningKey = DevelopmentKey.Load() };
        var claims = new List<Claim> { new("sub", subject), new("name", subject) };
        claims.AddRange(roles.Select(r => new Claim("role", r)));
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Issuer,
            Audience = options.Audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(options.Key, SecurityAlgorithms.HmacSha256),
        });
    }
}
