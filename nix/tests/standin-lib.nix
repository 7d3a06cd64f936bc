# A stand-in for nixpkgs' `lib` (nixos-25.05), for evaluating the NixOS module where nixpkgs is not available
# (CI, a user's clone). It is written from scratch and models only what homey's modules and their tests use,
# but models it the way lib/modules.nix, lib/types.nix and lib/options.nix of nixos-25.05 do, so what the real
# lib refuses, this refuses too:
#
# - evalModules: modules as functions, attribute sets or files, `imports`, `options`/`config` or shorthand;
#   an option declared twice is an error ("… is already declared in …"), a definition of an option nobody
#   declared is an error ("The option `…' does not exist") unless a freeformType takes it; an option read
#   without a value throws "… was accessed but has no value defined" (a throw, so builtins.tryEval sees it).
# - properties: mkIf/mkMerge/mkOverride (mkDefault, mkForce, option defaults at 1500) are pushed down through
#   attribute sets without evaluating conditions (pushDownProperties), then discharged at the option, and
#   only the definitions of the highest priority count (filterOverrides).
# - types: every definition is checked before merging ("A definition for option `…' is not of type …");
#   str, bool, int and enum take equal definitions only (conflicts are errors); `path` takes a path literal
#   or an absolute string, `pathWith { inStore = false; }` only a string (never a path literal, which
#   interpolation would copy into the store); package takes a derivation or a store path; listOf concatenates;
#   attrsOf and submodule merge definitions from several modules key by key, each submodule evaluated as a
#   module of its own with `name`; nullOr, either/oneOf, anything and freeformType as in nixpkgs.
#
# How each behaviour was checked against the real lib is in nix/tests/README.md: nix/tests/offline-eval.nix
# takes `lib` as an argument, and its whole output is identical with this file and with nixos-25.05's lib.
let
  inherit (builtins)
    all
    any
    attrNames
    concatLists
    concatMap
    concatStringsSep
    elem
    filter
    foldl'
    genList
    head
    isAttrs
    isBool
    isFunction
    isInt
    isFloat
    isList
    isPath
    isString
    length
    listToAttrs
    mapAttrs
    substring
    stringLength
    tail
    zipAttrsWith
    ;

  lib = rec {
    inherit
      all
      any
      attrNames
      concatLists
      concatMap
      concatStringsSep
      elem
      filter
      foldl'
      head
      isAttrs
      isBool
      isFunction
      isInt
      isList
      isPath
      isString
      length
      listToAttrs
      mapAttrs
      zipAttrsWith
      ;

    # ---- plain helpers (lib/attrsets.nix, lists.nix, strings.nix)
    last = list: builtins.elemAt list (length list - 1);
    toList = x: if isList x then x else [ x ];
    nameValuePair = name: value: { inherit name value; };
    filterAttrs =
      pred: set: listToAttrs (concatMap (name: if pred name set.${name} then [ (nameValuePair name set.${name}) ] else [ ]) (attrNames set));
    filterAttrsRecursive =
      pred: set:
      listToAttrs (
        concatMap (
          name:
          let
            v = set.${name};
          in
          if pred name v then [ (nameValuePair name (if isAttrs v then filterAttrsRecursive pred v else v)) ] else [ ]
        ) (attrNames set)
      );
    mapAttrsToList = f: set: map (name: f name set.${name}) (attrNames set);
    mapAttrs' = f: set: listToAttrs (mapAttrsToList f set);
    genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
    recursiveUpdate =
      lhs: rhs:
      lhs
      // mapAttrs (
        name: r: if lhs ? ${name} && isAttrs lhs.${name} && isAttrs r && !(isDerivation r) then recursiveUpdate lhs.${name} r else r
      ) rhs;
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalAttrs = cond: set: if cond then set else { };
    optionalString = cond: s: if cond then s else "";
    hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;
    hasSuffix =
      suffix: s:
      let
        ls = stringLength s;
        lx = stringLength suffix;
      in
      ls >= lx && substring (ls - lx) lx s == suffix;
    concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
    removePrefix = prefix: s: if hasPrefix prefix s then substring (stringLength prefix) (-1) s else s;
    splitString = sep: s: filter isString (builtins.split (escapeRegex sep) s);
    escapeRegex = builtins.replaceStrings (map (c: c) (lib.stringToCharacters "\\[{()^$?*+|.")) (
      map (c: "\\${c}") (lib.stringToCharacters "\\[{()^$?*+|.")
    );
    stringToCharacters = s: genList (i: substring i 1 s) (stringLength s);
    hasInfix = infix: s: builtins.match ".*${escapeRegex infix}.*" s != null;
    escapeShellArg =
      arg:
      let
        s = toString arg;
      in
      if builtins.match "[[:alnum:],._+:@%/-]+" s != null then s else "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] s}'";
    escapeShellArgs = concatMapStringsSep " " escapeShellArg;
    isStringLike = x: isString x || isPath x || (isAttrs x && (x ? outPath || x ? __toString));
    isDerivation = x: isAttrs x && (x.type or null) == "derivation";
    isStorePath =
      x:
      isStringLike x
      && (
        let
          s = toString x;
          rest = substring (stringLength builtins.storeDir + 1) (-1) s;
        in
        hasPrefix "${builtins.storeDir}/" s && builtins.match "[0-9a-z]{32}-[^/]+" rest != null
      );

    # ---- options (lib/options.nix)
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption =
      name:
      mkOption {
        type = types.bool;
        default = false;
        example = true;
        description = "Whether to enable ${name}.";
      };
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    literalMD = text: {
      _type = "literalMD";
      inherit text;
    };
    isOption = v: isAttrs v && (v._type or null) == "option";
    showOption = concatStringsSep ".";
    showDefs = defs: concatStringsSep "" (map (d: "\n- In `${d.file}': ${builtins.toJSON (safe d.value)}") defs);
    # What an error message may print of a value: functions and store paths as placeholders.
    safe =
      v:
      if isFunction v then
        "<function>"
      else if isPath v then
        toString v
      else if isDerivation v then
        "<derivation>"
      else if isAttrs v then
        (if v ? __toString then toString v else mapAttrs (_: safe) v)
      else if isList v then
        map safe v
      else
        v;
    mergeEqualOption =
      loc: defs:
      if all (d: d.value == (head defs).value) defs then
        (head defs).value
      else
        throw "The option `${showOption loc}' has conflicting definition values:${showDefs defs}\nUse `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.";
    mergeOneOption =
      loc: defs:
      if length defs == 1 then
        (head defs).value
      else
        mergeEqualOption loc defs;
    mergeDefaultOption =
      loc: defs:
      let
        list = map (d: d.value) defs;
      in
      if length list == 1 then
        head list
      else if all isList list then
        concatLists list
      else if all isAttrs list then
        foldl' (a: b: a // b) { } list
      else if all isBool list then
        any (x: x) list
      else if all isString list then
        concatStringsSep "" list
      else if all isInt list && all (x: x == head list) list then
        head list
      else
        throw "Cannot merge definitions of `${showOption loc}'. Definition values:${showDefs defs}";

    # ---- properties (lib/modules.nix)
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    mkOverride = priority: content: {
      _type = "override";
      inherit priority content;
    };
    mkOptionDefault = mkOverride 1500;
    mkDefault = mkOverride 1000;
    mkForce = mkOverride 50;

    pushDownProperties =
      cfg:
      let
        t = cfg._type or null;
      in
      if t == "merge" then
        zipAttrsWith (_: mkMerge) (map pushDownProperties cfg.contents)
      else if t == "if" then
        mapAttrs (_: mkIf cfg.condition) (pushDownProperties cfg.content)
      else if t == "override" then
        mapAttrs (_: mkOverride cfg.priority) (pushDownProperties cfg.content)
      else
        cfg;

    dischargeProperties =
      def:
      let
        t = def._type or null;
      in
      if t == "merge" then
        concatMap dischargeProperties def.contents
      else if t == "if" then
        (
          if !isBool def.condition then
            throw "mkIf called with a non-Boolean condition"
          else if def.condition then
            dischargeProperties def.content
          else
            [ ]
        )
      else
        [ def ];

    filterOverrides =
      defs:
      let
        prio = d: if (d.value._type or null) == "override" then d.value.priority else 100;
        highest = foldl' (p: d: if prio d < p then prio d else p) 9999 defs;
        strip = d: if (d.value._type or null) == "override" then d // { value = d.value.content; } else d;
      in
      map strip (filter (d: prio d == highest) defs);

    # Discharge, keep the highest priority, type-check, merge: { value } or { } when nothing is defined.
    mergeDefinitions =
      loc: type: defs:
      let
        discharged = concatMap (d: map (value: { inherit (d) file; inherit value; }) (dischargeProperties d.value)) defs;
        final = filterOverrides discharged;
        invalid = filter (d: !type.check d.value) final;
      in
      if final == [ ] then
        { }
      else if invalid != [ ] then
        throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs invalid}"
      else
        { value = type.merge loc final; };

    # ---- types (lib/types.nix)
    mkOptionType =
      {
        name,
        description ? name,
        check ? (_: true),
        merge ? mergeDefaultOption,
        descriptionClass ? null,
        nestedTypes ? { },
        getSubOptions ? (_: { }),
        ...
      }@attrs:
      attrs
      // {
        _type = "option-type";
        inherit
          name
          description
          descriptionClass
          check
          merge
          nestedTypes
          getSubOptions
          ;
      };
    # The description of a type inside another's, in parentheses where it could be ambiguous.
    optionDescriptionPhrase = unparenthesize: t: if unparenthesize (t.descriptionClass or null) then t.description else "(${t.description})";
    isType = t: isAttrs t && (t._type or null) == "option-type";

    types = rec {
      str = mkOptionType {
        name = "str";
        description = "string";
        descriptionClass = "noun";
        check = isString;
        merge = mergeEqualOption;
      };
      bool = mkOptionType {
        name = "bool";
        description = "boolean";
        descriptionClass = "noun";
        check = isBool;
        merge = mergeEqualOption;
      };
      int = mkOptionType {
        name = "int";
        description = "signed integer";
        descriptionClass = "noun";
        check = isInt;
        merge = mergeEqualOption;
      };
      float = mkOptionType {
        name = "float";
        description = "floating point number";
        descriptionClass = "noun";
        check = isFloat;
        merge = mergeEqualOption;
      };
      ints =
        let
          between =
            lo: hi:
            int
            // {
              name = "intBetween";
              description = "integer between ${toString lo} and ${toString hi} (both inclusive)";
              check = x: isInt x && x >= lo && x <= hi;
            };
        in
        {
          inherit between;
          unsigned = int // {
            name = "unsignedInt";
            description = "unsigned integer, meaning >=0";
            descriptionClass = "nonRestrictiveClause";
            check = x: isInt x && x >= 0;
          };
          positive = int // {
            name = "positiveInt";
            description = "positive integer, meaning >0";
            descriptionClass = "nonRestrictiveClause";
            check = x: isInt x && x > 0;
          };
        };
      enum =
        values:
        mkOptionType {
          name = "enum";
          description =
            let
              show = v: if isString v then ''"${v}"'' else if isInt v then toString v else if isBool v then (if v then "true" else "false") else "<${builtins.typeOf v}>";
            in
            if values == [ ] then
              "impossible (empty enum)"
            else if length values == 1 then
              "value ${show (head values)} (singular enum)"
            else
              "one of ${concatStringsSep ", " (map show values)}";
          descriptionClass = if length values < 2 then "noun" else "conjunction";
          check = x: elem x values;
          merge = mergeEqualOption;
        };
      pathWith =
        {
          inStore ? null,
          absolute ? null,
        }:
        mkOptionType {
          name = "path";
          description =
            (if absolute == null then "" else if absolute then "absolute " else "relative ")
            + "path"
            + (if inStore == null then "" else if inStore then " in the Nix store" else " not in the Nix store");
          descriptionClass = "noun";
          check =
            x:
            let
              s = toString x;
              inStorePath = hasPrefix "${builtins.storeDir}/" s;
            in
            # A true path is refused where the value must stay out of the store: "${x}" would copy it there.
            (if inStore == null || inStore then isStringLike x else isString x)
            && (inStore == null || inStore == inStorePath)
            && (absolute == null || absolute == (substring 0 1 s == "/"));
          merge = mergeEqualOption;
        };
      path = pathWith { absolute = true; };
      package = mkOptionType {
        name = "package";
        description = "package";
        descriptionClass = "noun";
        check = x: isDerivation x || isStorePath x;
        merge = mergeOneOption;
      };
      anything = mkOptionType {
        name = "anything";
        description = "anything";
        descriptionClass = "noun";
        check = _: true;
        merge =
          loc: defs:
          let
            kind = v: if isAttrs v && isStringLike v then "stringCoercibleSet" else builtins.typeOf v;
            common = foldl' (
              k: d:
              if kind d.value == k then
                k
              else
                throw "The option `${showOption loc}' has conflicting option types in ${concatStringsSep ", " (map (d: d.file) defs)}"
            ) (kind (head defs).value) defs;
          in
          if common == "set" then
            (attrsOf anything).merge loc defs
          else if common == "stringCoercibleSet" then
            mergeOneOption loc defs
          else
            mergeEqualOption loc defs;
      };
      unspecified = mkOptionType {
        name = "unspecified";
        description = "unspecified value";
      };
      nullOr =
        elemType:
        mkOptionType {
          name = "nullOr";
          description = "null or ${optionDescriptionPhrase (class: class == "noun" || class == "conjunction") elemType}";
          descriptionClass = "conjunction";
          getSubOptions = elemType.getSubOptions;
          check = x: x == null || elemType.check x;
          merge =
            loc: defs:
            let
              nulls = length (filter (d: d.value == null) defs);
            in
            if nulls == length defs then
              null
            else if nulls != 0 then
              throw "The option `${showOption loc}' is defined both null and not null, in ${concatStringsSep ", " (map (d: d.file) defs)}."
            else
              elemType.merge loc defs;
          nestedTypes.elemType = elemType;
        };
      listOf =
        elemType:
        mkOptionType {
          name = "listOf";
          description = "list of ${optionDescriptionPhrase (class: class == "noun" || class == "composite") elemType}";
          descriptionClass = "composite";
          getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "*" ]);
          check = isList;
          merge =
            loc: defs:
            concatLists (
              genList (
                i:
                let
                  d = builtins.elemAt defs i;
                in
                concatLists (
                  genList (
                    j:
                    let
                      r = mergeDefinitions (loc ++ [ "[definition ${toString (i + 1)}-entry ${toString (j + 1)}]" ]) elemType [
                        {
                          inherit (d) file;
                          value = builtins.elemAt d.value j;
                        }
                      ];
                    in
                    if r ? value then [ r.value ] else [ ]
                  ) (length d.value)
                )
              ) (length defs)
            );
          nestedTypes.elemType = elemType;
        };
      attrsWith =
        lazy: elemType:
        mkOptionType {
          name = if lazy then "lazyAttrsOf" else "attrsOf";
          description = "${if lazy then "lazy " else ""}attribute set of ${optionDescriptionPhrase (class: class == "noun" || class == "composite") elemType}";
          descriptionClass = "composite";
          getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<name>" ]);
          check = isAttrs;
          merge =
            loc: defs:
            let
              perName = zipAttrsWith (name: defs: mergeDefinitions (loc ++ [ name ]) elemType defs) (
                map (d: mapAttrs (_: value: { inherit (d) file; inherit value; }) (pushDownProperties d.value)) defs
              );
            in
            if lazy then
              mapAttrs (name: r: r.value or (throw "The option `${showOption (loc ++ [ name ])}' was accessed but has no value defined. Try setting the option.")) perName
            else
              mapAttrs (_: r: r.value) (filterAttrs (_: r: r ? value) perName);
          nestedTypes.elemType = elemType;
        };
      attrsOf = attrsWith false;
      lazyAttrsOf = attrsWith true;
      either =
        t1: t2:
        mkOptionType {
          name = "either";
          description =
            if t1.descriptionClass or null == "nonRestrictiveClause" then
              "${t1.description}, or ${optionDescriptionPhrase (class: class == "noun" || class == "conjunction") t2}"
            else
              "${optionDescriptionPhrase (class: class == "noun" || class == "conjunction") t1} or ${
                optionDescriptionPhrase (class: class == "noun" || class == "conjunction" || class == "composite") t2
              }";
          descriptionClass = "conjunction";
          check = x: t1.check x || t2.check x;
          merge =
            loc: defs:
            if all (d: t1.check d.value) defs then
              t1.merge loc defs
            else if all (d: t2.check d.value) defs then
              t2.merge loc defs
            else
              mergeOneOption loc defs;
        };
      oneOf =
        ts:
        let
          rest = tail ts;
        in
        foldl' either (head ts) rest;
      submoduleWith =
        {
          modules,
          specialArgs ? { },
        }:
        mkOptionType {
          name = "submodule";
          # As nixpkgs: a freeform submodule is described by its freeform type.
          description = (evalModules { inherit modules; specialArgs = specialArgs // { name = "<name>"; }; }).freeformType.description or "submodule";
          getSubOptions =
            prefix:
            (evalModules {
              inherit modules prefix;
              specialArgs = specialArgs // {
                name = "<name>";
              };
            }).options;
          check = x: isAttrs x || isFunction x || isPath x;
          merge =
            loc: defs:
            (evalModules {
              modules =
                modules
                ++ map (
                  d:
                  if isAttrs d.value && !(isFunction d.value) then
                    {
                      _file = d.file;
                      config = d.value;
                    }
                  else
                    {
                      _file = d.file;
                      imports = [ d.value ];
                    }
                ) defs;
              specialArgs = specialArgs // {
                name = last loc;
              };
              prefix = loc;
            }).config;
          inherit modules;
        };
      submodule = module: submoduleWith { modules = toList module; };
    };

    # ---- the module system (lib/modules.nix)
    evalModules =
      {
        modules,
        specialArgs ? { },
        prefix ? [ ],
      }:
      let
        args = specialArgs // {
          inherit lib config options;
        };

        # One module, loaded, as { file, key, options, config, imports, freeformType? }.
        load =
          file: m:
          let
            value = if isPath m || isString m then import m else m;
            file' = if isPath m || isString m then toString m else value._file or file;
            body = if isFunction value then value args else value;
            structured = body ? options || body ? config;
          in
          {
            file = file';
            key = if isPath m || isString m then toString m else value.key or null;
            options = body.options or { };
            config =
              if structured then
                body.config or { }
              else
                removeAttrs body [
                  "_file"
                  "key"
                  "imports"
                  "freeformType"
                  "disabledModules"
                ];
            imports = map (load file') (body.imports or [ ]);
          }
          // optionalAttrs (body ? freeformType) { inherit (body) freeformType; };

        # As nixpkgs' collectModules: breadth first from the modules given, a file imported twice is one
        # module (keyed by its path), and the definitions are merged in the reverse of that order.
        closure =
          queue: seen: acc:
          if queue == [ ] then
            acc
          else
            let
              m = head queue;
              rest = tail queue;
            in
            if m.key != null && seen ? ${m.key} then
              closure rest seen acc
            else
              closure (rest ++ m.imports) (seen // optionalAttrs (m.key != null) { ${m.key} = true; }) ([ m ] ++ acc);
        collected = closure (map (load "<unknown-file>") modules) { } [ ];

        freeform = foldl' (acc: m: m.freeformType or acc) null collected;

        # Declarations merged into one tree; an option may be declared once.
        # Each declaration keeps the file it came from, for the message above.
        tagged =
          file: opts: mapAttrs (_: v: if isOption v then v // { inherit file; } else { inherit file; value = tagged file v; }) opts;
        untag = t: mapAttrs (_: v: if isOption v then v else untag v.value) t;
        options = untag (
          foldl' (acc: m: declareTagged prefix acc (tagged m.file m.options)) { } collected
        );
        declareTagged =
          loc: a: b:
          a
          // mapAttrs (
            name: decl:
            if !(a ? ${name}) then
              decl
            else if isOption a.${name} || isOption decl then
              throw "The option `${showOption (loc ++ [ name ])}' in `${decl.file}' is already declared in `${a.${name}.file}'."
            else
              {
                inherit (decl) file;
                value = declareTagged (loc ++ [ name ]) a.${name}.value decl.value;
              }
          ) b;

        # The value of a declared option from its definitions (and its default, at priority 1500).
        optionValue =
          loc: opt: defs:
          let
            defaults = optional (opt ? default) {
              file = "${showOption loc}'s default";
              value = mkOptionDefault opt.default;
            };
            userDefs = filter (d: (d.value._type or null) != "absent") defs;
            type = opt.type or types.unspecified;
            merged = mergeDefinitions loc type (defaults ++ userDefs);
            value =
              if opt.readOnly or false && length userDefs > 1 then
                throw "The option `${showOption loc}' is read-only, but it's set multiple times."
              else
                merged.value
                  or (throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.");
          in
          if opt ? apply then opt.apply value else value;

        # The config below `loc`: declared names from their declarations, the rest through the freeform type.
        evalTree =
          loc: decls: defs:
          let
            pushed = map (d: {
              inherit (d) file;
              value = pushDownProperties d.value;
            }) defs;
            defined = concatMap (d: attrNames d.value) pushed;
            names = attrNames (listToAttrs (map (n: nameValuePair n null) (attrNames decls ++ defined)));
            defsOf =
              name:
              concatMap (
                d:
                if d.value ? ${name} then
                  [
                    {
                      inherit (d) file;
                      value = d.value.${name};
                    }
                  ]
                else
                  [ ]
              ) pushed;
            valueOf =
              name:
              let
                l = loc ++ [ name ];
              in
              if decls ? ${name} then
                (if isOption decls.${name} then optionValue l decls.${name} (defsOf name) else evalTree l decls.${name} (defsOf name))
              else if freeform != null then
                # As nixpkgs: the definitions nobody declared, at their place below the module's prefix, merged by
                # the freeform type as a whole.
                let
                  rel = builtins.genList (i: builtins.elemAt l (i + length prefix)) (length l - length prefix);
                  wrap = path: v: if path == [ ] then v else { ${head path} = wrap (tail path) v; };
                  get = path: v: if path == [ ] then v else get (tail path) v.${head path};
                in
                get rel (freeform.merge prefix (map (d: d // { value = wrap rel d.value; }) (defsOf name)))
              else
                throw "The option `${showOption l}' does not exist. Definition values:${showDefs (defsOf name)}";
          in
          listToAttrs (map (name: nameValuePair name (valueOf name)) names);

        config = evalTree prefix options (map (m: {
          inherit (m) file;
          value = m.config;
        }) collected);
      in
      {
        inherit config options;
      }
      // optionalAttrs (freeform != null) { freeformType = freeform; };
  };
in
lib
