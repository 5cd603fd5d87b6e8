"""The words residents use for each request, in each language: the one place to add a way of asking.

Cues are written as people type them; case, accents and punctuation do not matter (handlers/understand.py
normalises both sides, and forgives a typo in words of four letters or more). A cue of several words
matches only with its words in a row. Its weight says how much it alone tells: 1.0 is enough on its own
("balance"), 0.5 needs another cue with it ("how much" + "have"). Requests and their commands:
balance, orders, join, history, proposals, vote, alerts, readings, help, menu, lang, explain.
"""

STRONG, WEAK = 1.0, 0.5

CUES: dict[str, dict[str, dict[str, float]]] = {
    "en": {
        "balance": {"balance": STRONG, "how much": WEAK, "have": WEAK, "money": 0.7, "my account": STRONG,
                    "funds": 0.7, "left": 0.3, "wallet": 0.7, "credit": 0.3, "got": 0.3},
        "orders": {"orders": STRONG, "order": 0.6, "open orders": STRONG, "buy": 0.4, "for sale": STRONG,
                   "group buy": STRONG, "available": 0.5, "what can i": 0.4, "shop": 0.5},
        "join": {"join": STRONG, "sign up": 0.8, "sign me": 0.8, "count me": 0.8, "i want": 0.5, "i'd like": 0.5,
                 "id like": 0.5, "want": 0.4, "put me": 0.7, "add me": 0.8, "i need": 0.5, "get me": 0.5,
                 "buy": 0.4, "units": 0.4, "kg": 0.3},
        "history": {"history": STRONG, "past": 0.6, "transactions": STRONG, "spent": 0.7, "what did i": 0.6,
                    "statement": 0.8, "activity": 0.7, "payments": 0.7, "recent": 0.5, "did": 0.2},
        "proposals": {"proposals": STRONG, "proposal": STRONG, "decisions": 0.8, "decide": 0.8, "deciding": STRONG,
                      "ideas": 0.5, "being voted": 0.8, "to vote on": 0.8, "voting": 0.5},
        "vote": {"vote": STRONG, "voting": 0.4, "cast": 0.6},
        "alerts": {"alerts": STRONG, "alert": STRONG, "notifications": STRONG, "notify": 0.8, "warnings": 0.8,
                   "messages about": 0.5},
        "readings": {"readings": STRONG, "sensors": STRONG, "sensor": STRONG, "temperature": STRONG,
                     "humidity": STRONG, "grow room": 0.8, "ph": 0.8, "plants": 0.6, "hot": 0.4, "water": 0.5},
        "help": {"help": STRONG, "what can you do": STRONG, "how does this work": STRONG, "commands": STRONG,
                 "how do i": 0.6, "how to": 0.5, "what do you do": STRONG, "confused": 0.6, "lost": 0.4},
        "menu": {"menu": STRONG, "options": 0.8, "buttons": 0.8, "start over": 0.8, "hello": STRONG, "hi": STRONG,
                 "hey": STRONG, "good morning": STRONG},
        "lang": {"language": STRONG, "speak": 0.6, "talk to me in": 0.8, "in english": 0.5, "translate": 0.7},
        "explain": {"what is": 0.6, "what's": 0.6, "whats": 0.6, "what are": 0.6, "explain": 0.8, "meaning": 0.6,
                    "mean": 0.5, "how does": 0.5, "how do": 0.4, "tell me about": 0.7, "?": 0.2, "work": 0.3},
    },
    "es": {
        "balance": {"saldo": STRONG, "cuanto": WEAK, "tengo": WEAK, "dinero": 0.7, "plata": 0.7, "mi cuenta": 0.7,
                    "me queda": WEAK, "queda": 0.3, "fondos": 0.7, "billetera": 0.7},
        "orders": {"pedidos": STRONG, "pedido": 0.6, "ordenes": STRONG, "compras": 0.8, "comprar": 0.4,
                   "a la venta": 0.7, "disponible": 0.5, "hay": 0.3, "abiertos": 0.5, "compra grupal": STRONG},
        "join": {"unirme": STRONG, "unir": 0.8, "apuntarme": STRONG, "apuntame": STRONG, "sumarme": STRONG,
                 "sumame": STRONG, "anotame": STRONG, "anotarme": STRONG, "quiero": 0.5, "quisiera": 0.5,
                 "necesito": 0.5, "comprar": 0.4, "participar": 0.8, "entrar": 0.6, "unidades": 0.4, "kilos": 0.3},
        "history": {"historial": STRONG, "historia": 0.8, "movimientos": STRONG, "gastos": 0.8, "gaste": 0.8,
                    "en que gaste": STRONG,
                    "transacciones": STRONG, "pagos": 0.7, "que hice": 0.6, "actividad": 0.7},
        "proposals": {"propuestas": STRONG, "propuesta": STRONG, "decisiones": 0.8, "votaciones": 0.8, "ideas": 0.5,
                      "que se vota": 0.8},
        "vote": {"votar": STRONG, "voto": STRONG, "vota": 0.8},
        "alerts": {"alertas": STRONG, "alerta": STRONG, "avisos": STRONG, "aviso": 0.8, "notificaciones": STRONG,
                   "avisame": 0.7},
        "readings": {"lecturas": STRONG, "sensores": STRONG, "sensor": STRONG, "temperatura": STRONG,
                     "humedad": STRONG, "cuarto de cultivo": 0.8, "plantas": 0.6, "agua": 0.5, "calor": 0.4},
        "help": {"ayuda": STRONG, "ayudame": STRONG, "que puedes hacer": STRONG, "que haces": STRONG,
                 "como funciona": 0.7, "comandos": STRONG, "como hago": 0.6, "no entiendo": 0.6},
        "menu": {"menu": STRONG, "opciones": 0.8, "botones": 0.8, "hola": STRONG, "buenas": STRONG,
                 "buenos dias": STRONG},
        "lang": {"idioma": STRONG, "lengua": 0.8, "hablame en": 0.8, "habla en": 0.8, "hablar": 0.5, "en ingles": 0.5,
                 "cambiar idioma": STRONG, "traducir": 0.7},
        "explain": {"que es": 0.6, "que son": 0.6, "explica": 0.8, "explicame": 0.8, "significa": 0.6,
                    "como funciona": 0.5, "para que sirve": 0.7, "que significa": 0.7, "?": 0.2},
    },
    "fr": {
        "balance": {"solde": STRONG, "combien": WEAK, "j ai": WEAK, "ai je": WEAK, "argent": 0.7, "mon compte": 0.7,
                    "reste": 0.4, "sous": 0.3, "porte monnaie": 0.7, "fonds": 0.7},
        "orders": {"commandes": STRONG, "commande": 0.6, "achats": 0.8, "acheter": 0.4, "en vente": 0.7,
                   "disponible": 0.5, "ouvertes": 0.5, "achat groupe": STRONG},
        "join": {"rejoindre": STRONG, "participer": 0.8, "inscris moi": STRONG, "inscrire": 0.8, "je veux": 0.5,
                 "je voudrais": 0.5, "voudrais": 0.5, "veux": 0.4, "besoin": 0.4, "acheter": 0.4, "prendre": 0.5,
                 "ajoute moi": 0.8, "mets moi": 0.8, "unites": 0.4, "kilos": 0.3},
        "history": {"historique": STRONG, "histoire": 0.7, "mouvements": STRONG, "operations": STRONG,
                    "transactions": STRONG, "depenses": 0.8, "mes depenses": STRONG, "depense": 0.6,
                    "paiements": 0.7, "activite": 0.7},
        "proposals": {"propositions": STRONG, "proposition": STRONG, "decisions": 0.8, "idees": 0.5, "scrutins": 0.8},
        "vote": {"voter": STRONG, "vote": STRONG, "votez": 0.8},
        "alerts": {"alertes": STRONG, "alerte": STRONG, "notifications": STRONG, "avertissements": 0.8,
                   "previens moi": 0.7},
        "readings": {"mesures": STRONG, "capteurs": STRONG, "capteur": STRONG, "temperature": STRONG,
                     "humidite": STRONG, "releves": STRONG, "salle de culture": 0.8, "plantes": 0.6, "eau": 0.5,
                     "chaud": 0.4},
        "help": {"aide": STRONG, "aidez moi": STRONG, "aide moi": STRONG, "que peux tu faire": STRONG,
                 "que sais tu faire": STRONG, "comment ca marche": 0.7, "commandes disponibles": 0.6,
                 "je comprends pas": 0.6, "comment faire": 0.6},
        "menu": {"menu": STRONG, "options": 0.8, "boutons": 0.8, "bonjour": STRONG, "salut": STRONG,
                 "coucou": STRONG},
        "lang": {"langue": STRONG, "parle moi en": 0.8, "parle en": 0.8, "parler": 0.5, "en anglais": 0.5,
                 "changer de langue": STRONG, "traduire": 0.7},
        "explain": {"c est quoi": 0.6, "qu est ce que": 0.6, "qu est ce qu": 0.6, "que veut dire": 0.7,
                    "explique": 0.8, "expliquez": 0.8, "signifie": 0.6, "comment marche": 0.5, "a quoi sert": 0.7,
                    "?": 0.2},
    },
    "bn": {
        "balance": {"ব্যালেন্স": STRONG, "ব্যালান্স": STRONG, "কত": WEAK, "আছে": WEAK, "টাকা": 0.7,
                    "হিসাব": 0.6, "অ্যাকাউন্ট": 0.6, "একাউন্ট": 0.6, "বাকি": 0.4, "balance": STRONG},
        "orders": {"অর্ডার": 0.8, "অর্ডারগুলো": STRONG, "অর্ডার গুলো": STRONG, "কেনাকাটা": 0.8, "কী কেনা যায়": STRONG,
                   "খোলা": 0.5, "পাওয়া যায়": 0.5, "কিনতে পারি": 0.6, "order": 0.6, "orders": STRONG},
        "join": {"যোগ দিতে": STRONG, "যোগ দিন": STRONG, "যোগ দেব": STRONG, "যোগ": 0.8, "চাই": 0.5, "কিনতে": 0.4,
                 "নিতে": 0.5, "নেব": 0.5, "লাগবে": 0.5, "দরকার": 0.4, "নাম লেখাও": 0.8, "join": STRONG},
        "history": {"ইতিহাস": STRONG, "লেনদেন": STRONG, "খরচ": STRONG, "আগের": 0.5, "হিস্টরি": STRONG,
                    "history": STRONG},
        "proposals": {"প্রস্তাব": STRONG, "প্রস্তাবগুলো": STRONG, "প্রস্তাবনা": STRONG, "সিদ্ধান্ত": 0.8,
                      "proposals": STRONG},
        "vote": {"ভোট": STRONG, "ভোট দিতে": STRONG, "ভোট দেব": STRONG, "vote": STRONG},
        "alerts": {"সতর্কতা": STRONG, "এলার্ট": STRONG, "অ্যালার্ট": STRONG, "সতর্কবার্তা": STRONG,
                   "নোটিফিকেশন": STRONG, "জানাবে": 0.6, "alerts": STRONG},
        "readings": {"সেন্সর": STRONG, "তাপমাত্রা": STRONG, "আর্দ্রতা": STRONG, "রিডিং": STRONG, "গাছ": 0.6,
                     "পানি": 0.5, "গরম": 0.4, "গ্রো রুম": 0.8, "readings": STRONG},
        "help": {"সাহায্য": STRONG, "সাহায্য করুন": STRONG, "হেল্প": STRONG, "কী করতে পারো": STRONG,
                 "কি করতে পারো": STRONG, "কীভাবে": 0.5, "কিভাবে": 0.5, "বুঝতে পারছি না": 0.6, "help": STRONG},
        "menu": {"মেনু": STRONG, "বোতাম": 0.8, "menu": STRONG, "হ্যালো": STRONG, "নমস্কার": STRONG,
                 "আসসালামু আলাইকুম": STRONG, "সালাম": STRONG},
        "lang": {"ভাষা": STRONG, "ভাষায়": STRONG, "বলো": 0.4, "কথা বলো": 0.6, "language": STRONG},
        "explain": {"কী": 0.6, "কি": 0.6, "মানে": 0.7, "কাকে বলে": 0.8, "বুঝিয়ে": 0.8, "ব্যাখ্যা": 0.8,
                    "কীভাবে কাজ করে": 0.6, "কিভাবে কাজ করে": 0.6, "?": 0.2},
    },
}

# The four things the explainers cover (handlers/explain.py), by the names people give them in any language.
TOPICS: dict[str, dict[str, float]] = {
    "fusd": {"food usd": STRONG, "foodusd": STRONG, "fusd": STRONG, "food dollar": 0.8, "food dollars": 0.8,
             "ফুড ইউএসডি": STRONG, "ফুড ডলার": STRONG},
    "gro": {"grotoken": STRONG, "gro token": STRONG, "gro": 0.8, "gros": 0.6, "token": 0.5, "tokens": 0.5,
            "গ্রো": STRONG, "গ্রোটোকেন": STRONG, "টোকেন": 0.5},
    "vegro": {"vegro": STRONG, "ve gro": STRONG, "voting power": STRONG, "poder de voto": STRONG,
              "pouvoir de vote": STRONG, "ভোটের ক্ষমতা": STRONG, "ভিইগ্রো": STRONG},
    "quadratic": {"quadratic": STRONG, "quadratic voting": STRONG, "cuadratico": STRONG, "voto cuadratico": STRONG,
                  "quadratique": STRONG, "vote quadratique": STRONG, "দ্বিঘাত": STRONG, "কোয়াড্রাটিক": STRONG,
                  "credits": 0.6, "creditos": 0.6, "credits de vote": 0.8, "ক্রেডিট": 0.6},
}

# Numbers written as words (digits, Bengali digits too, are read by locales.parse_count).
NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "a couple": 2, "dozen": 12,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "docena": 12,
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "douzaine": 12,
    "এক": 1, "একটা": 1, "একটি": 1, "দুই": 2, "দুটো": 2, "দুটি": 2, "দুইটা": 2, "তিন": 3, "তিনটা": 3,
    "তিনটি": 3, "চার": 4, "চারটা": 4, "পাঁচ": 5, "পাঁচটা": 5, "ছয়": 6, "সাত": 7, "আট": 8, "নয়": 9, "দশ": 10,
}

# Words that say the number after them is an order's or a proposal's number, not a quantity.
NUMBER_OF = {"order", "orders", "pedido", "orden", "commande", "অর্ডার", "number", "numero", "nº", "n°",
             "proposal", "propuesta", "proposition", "প্রস্তাব", "নম্বর", "#"}

# Yes / no / abstain in a vote, beyond handlers/governance.SUPPORT_WORDS (which /vote reads).
SUPPORT_EXTRA = {"yeah": "yes", "yep": "yes", "agree": "yes", "in favour": "yes", "in favor": "yes", "nope": "no",
                 "a favor": "yes", "en contra": "no", "d accord": "yes", "pas d accord": "no", "ok": "yes",
                 "হ্যা": "yes", "হ্যাঁ": "yes", "না": "no", "পক্ষে": "yes", "বিপক্ষে": "no", "বিরত": "abstain",
                 "yes": "yes", "no": "no", "abstain": "abstain", "si": "yes", "oui": "yes", "non": "no",
                 "pour": "yes", "contre": "no", "abstencion": "abstain", "abstention": "abstain", "against": "no"}

# On / off for alerts (the words /alerts reads are on, off, sí, no, oui, non, চালু, বন্ধ).
ON_WORDS = {"on": "on", "start": "on", "activate": "on", "enable": "on", "turn on": "on", "activar": "on",
            "activa": "on", "encender": "on", "prender": "on", "activer": "on", "active": "on", "চালু": "on",
            "off": "off", "stop": "off", "disable": "off", "turn off": "off", "desactivar": "off", "desactiva": "off",
            "apagar": "off", "apaga": "off", "desactiver": "off", "arrete": "off", "arreter": "off", "বন্ধ": "off",
            "no more": "off", "ya no": "off", "plus de": "off"}

# Languages by the names people give them, for "speak English", "en español", "বাংলায়".
LANGUAGE_WORDS = {"english": "en", "ingles": "en", "anglais": "en", "ইংরেজি": "en", "ইংরেজিতে": "en",
                  "spanish": "es", "espanol": "es", "castellano": "es", "espagnol": "es", "স্প্যানিশ": "es",
                  "bengali": "bn", "bangla": "bn", "বাংলা": "bn", "বাংলায়": "bn",
                  "french": "fr", "frances": "fr", "francais": "fr", "ফরাসি": "fr"}

# Common foods in the four languages, so "arroz", "riz" and "চাল" find an order named "rice".
FOODS = [
    {"rice", "arroz", "riz", "চাল", "ভাত"},
    {"beans", "bean", "frijoles", "habichuelas", "porotos", "judias", "haricots", "শিম", "বিনস"},
    {"lentils", "lentejas", "lentilles", "ডাল", "মসুর"},
    {"oil", "aceite", "huile", "তেল"},
    {"flour", "harina", "farine", "আটা", "ময়দা"},
    {"sugar", "azucar", "sucre", "চিনি"},
    {"tomatoes", "tomato", "tomates", "tomate", "টমেটো"},
    {"onions", "onion", "cebollas", "cebolla", "oignons", "oignon", "পেঁয়াজ", "পিঁয়াজ"},
    {"potatoes", "potato", "papas", "patatas", "pommes de terre", "আলু"},
    {"eggs", "egg", "huevos", "oeufs", "ডিম"},
    {"milk", "leche", "lait", "দুধ"},
    {"lettuce", "lechuga", "laitue", "salade", "লেটুস"},
    {"basil", "albahaca", "basilic", "তুলসী"},
    {"salt", "sal", "sel", "লবণ", "নুন"},
    {"chicken", "pollo", "poulet", "মুরগি"},
    {"fish", "pescado", "poisson", "মাছ"},
]
